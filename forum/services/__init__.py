"""Business rules. Each public function checks permissions, validates, and owns its transaction."""
