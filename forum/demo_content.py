"""The demo's people and threads (German, as craftspeople write). ``forum.demo`` creates them.

A thread: board, author, title, Themenfelder, days ago, opening text and replies; a reply is
``(author, text, [replies to it])``. Authors are keys of ``PEOPLE``.
"""
from __future__ import annotations

# key: (username, display name, Betrieb, Gewerk, Region)
PEOPLE = {
    "admin": ("demo-admin", "Plattform-Team (Demo)", "Innovationscluster Handwerk NRW", "", "NRW"),
    "manager": ("demo-manager", "Martina Overbeck", "Overbeck Haustechnik GmbH", "Anlagenmechanikerin SHK", "Münster"),
    "member": ("demo-member", "Jan Schulte-Hemming", "Tischlerei Schulte-Hemming", "Tischlermeister", "Coesfeld"),
    "outsider": ("demo-outsider", "Deniz Aydın", "Elektro Aydın GmbH", "Elektrotechnikermeister", "Bochum"),
    "baecker": ("demo-heinrich", "Heinrich Lütke-Wöstmann", "Bäckerei Lütke-Wöstmann", "Bäckermeister", "Telgte"),
    "dach": ("demo-sabine", "Sabine Kötter", "Kötter Bedachungen", "Dachdeckermeisterin", "Warendorf"),
    "friseur": ("demo-anja", "Anja Brüggemann", "Salon Brüggemann", "Friseurmeisterin", "Steinfurt"),
    "kfz": ("demo-thomas", "Thomas Wessels", "Kfz-Meisterbetrieb Wessels", "Kfz-Mechatroniker", "Borken"),
    "elektro": ("demo-lukas", "Lukas Hölscher", "Elektro Hölscher e. K.", "Elektroniker", "Greven"),
    "ruhr_manager": ("demo-klaus", "Klaus Piepenbrink", "Piepenbrink Sanitär & Heizung",
                     "Installateur- und Heizungsbauermeister", "Gelsenkirchen"),
    "ruhr_friseur": ("demo-ayse", "Ayşe Demir", "Friseursalon Demir", "Friseurmeisterin", "Duisburg"),
    "ruhr_dach": ("demo-frank", "Frank Kowalski", "Kowalski Dach & Wand GmbH", "Dachdeckermeister", "Herne"),
    "ruhr_baecker": ("demo-stefanie", "Stefanie Brinkhoff", "Bäckerei Brinkhoff", "Bäckermeisterin", "Essen"),
    "ruhr_kfz": ("demo-marco", "Marco Grabowski", "Kfz-Technik Grabowski", "Kfz-Mechatronikermeister", "Dortmund"),
    "ruhr_tischler": ("demo-petra", "Petra Nowak", "Tischlerei Nowak", "Tischlermeisterin", "Bottrop"),
}

CLUSTERS = [
    {
        "name": "Cluster Münsterland", "region": "Münsterland",
        "description": "Handwerksbetriebe aus Münster, Coesfeld, Steinfurt, Warendorf und Borken tauschen sich "
                       "vertraulich über Nachwuchs, Nachfolge, Energie und Digitalisierung aus.",
        "manager": "manager", "members": ["member", "baecker", "dach", "friseur", "kfz", "elektro"],
    },
    {
        "name": "Cluster Ruhrgebiet", "region": "Ruhrgebiet",
        "description": "Betriebe zwischen Duisburg und Dortmund: Fachkräfte gewinnen, Betriebe übergeben, "
                       "Energiekosten senken und Kunden halten.",
        "manager": "ruhr_manager", "members": ["outsider", "ruhr_friseur", "ruhr_dach", "ruhr_baecker", "ruhr_kfz",
                                               "ruhr_tischler"],
    },
]

# (name, description): every cluster gets these five boards
BOARDS = [
    ("Nachwuchs & Ausbildung", "Azubis finden, ausbilden und halten – Praktika, Berufsschule, Prüfungen."),
    ("Nachfolge & Übergabe", "Betriebsübergabe in der Familie oder an Externe, Bewertung, Übergangszeit."),
    ("Klima & Energie", "Wärmepumpe, Photovoltaik, Energiekosten im eigenen Betrieb und beim Kunden."),
    ("Digitalisierung", "Zeiterfassung, Auftragsabwicklung, Terminbuchung, Software im Betriebsalltag."),
    ("Kunden & Markt", "Preise, Angebote, Bewertungen, Stammkunden und was Kunden heute erwarten."),
]

MUENSTERLAND = [
    {
        "board": 0, "author": "member", "days": 118, "tags": ["nachwuchs-und-ausbildung", "fachkraefte"],
        "title": "Azubi-Suche fürs nächste Lehrjahr: Was hat bei euch wirklich funktioniert?",
        "body": "Moin zusammen,\n\nwir suchen für August wieder zwei Azubis (Tischler). Die Anzeige bei der "
                "Arbeitsagentur hat dieses Jahr genau **eine** Bewerbung gebracht, und der ist nach dem Probetag nicht "
                "mehr aufgetaucht.\n\nWas macht ihr? Social Media, Schulen, Messen? Mich interessiert vor allem, was "
                "sich am Ende in echten Verträgen niedergeschlagen hat.",
        "replies": [
            ("baecker", "Bei uns hat Instagram mehr gebracht als alles andere. Meine Tochter macht kurze Videos aus "
                        "der Backstube um vier Uhr morgens – klingt verrückt, aber genau das finden die Jugendlichen "
                        "spannend. Zwei Bewerbungen kamen direkt darüber.", [
                ("member", "Wie oft postet ihr da? Ich hab ehrlich gesagt keine Zeit, jeden Tag was zu drehen.", [
                    ("baecker", "Zwei-, dreimal die Woche, jeweils 30 Sekunden mit dem Handy. Nichts Gestelltes. "
                                "Die Azubis drehen inzwischen selbst mit, das kommt am besten an.", [
                        ("friseur", "Kann ich bestätigen. Bei uns zeigen die Azubis ihre Übungsköpfe – die Videos "
                                    "laufen dreimal besser als alles, was ich mache 😅", []),
                    ]),
                ]),
            ]),
            ("manager", "Wir machen seit zwei Jahren eine **Praktikumswoche in den Herbstferien** zusammen mit "
                        "drei anderen Betrieben aus Münster. Jeder Schüler ist je einen Tag bei SHK, Elektro, "
                        "Dach und Tischler. Von 14 Teilnehmern haben letztes Jahr 4 einen Vertrag unterschrieben.", [
                ("elektro", "Da wären wir nächstes Mal gern dabei. Wer organisiert das bei euch – die Kammer?", [
                    ("manager", "Nein, wir selbst, mit der Realschule im Viertel. Ich schick dir die Unterlagen.", []),
                ]),
            ]),
            ("kfz", "Ganz banal: Schülerpraktikum immer annehmen, auch wenn's gerade nicht passt. Unser bester "
                    "Azubi war vorher zweimal zwei Wochen im Praktikum.", []),
        ],
    },
    {
        "board": 0, "author": "kfz", "days": 64, "tags": ["nachwuchs-und-ausbildung", "betriebsfuehrung"],
        "title": "Ausbildungsvergütung über Tarif – bringt das was?",
        "body": "Wir überlegen, im ersten Lehrjahr 150 € über der Empfehlung der Innung zu zahlen und das auch so "
                "in die Anzeige zu schreiben. Die großen Autohäuser in Münster zahlen mehr als wir, dazu Tablet und "
                "Jobticket.\n\nHat jemand Erfahrung, ob das Geld der entscheidende Punkt ist?",
        "replies": [
            ("dach", "Geld ist wichtig, aber nicht alles. Bei uns zieht der **Führerschein-Zuschuss** (1.000 € nach "
                     "bestandener Zwischenprüfung) mehr als ein höherer Monatsbetrag. Auf dem Land brauchen die den "
                     "Lappen sowieso.", [
                ("kfz", "Gute Idee, das passt zu uns wie die Faust aufs Auge. Bindet ihr das an eine Bedingung?", [
                    ("dach", "Nur an die bestandene Zwischenprüfung. Rückzahlung verlangen wir nicht, das "
                             "schreckt ab.", []),
                ]),
            ]),
            ("member", "Wir zahlen über Tarif und sagen das auch offen. Ich glaube, es signalisiert vor allem: "
                       "Hier werden Azubis nicht als billige Arbeitskraft gesehen.", []),
        ],
    },
    {
        "board": 1, "author": "baecker", "days": 97, "tags": ["nachfolge", "betriebsfuehrung"],
        "title": "Betriebsübergabe an meine Tochter – wie habt ihr das Übergangsjahr geregelt?",
        "body": "Liebe Kolleginnen und Kollegen,\n\nnach 34 Jahren soll die Bäckerei zum 1. Januar an meine "
                "Tochter gehen. Sie ist seit drei Jahren Meisterin und führt die Filiale in Everswinkel schon "
                "allein.\n\nMeine Fragen:\n\n1. Wie lange seid ihr nach der Übergabe noch im Betrieb geblieben?\n"
                "2. Schenkung, Verkauf oder Pacht – was hat euer Steuerberater empfohlen?\n3. Wie habt ihr es den "
                "Mitarbeitern gesagt?\n\nIch will nicht der Alte sein, der ihr jeden Morgen reinredet.",
        "replies": [
            ("dach", "Ich habe den Betrieb 2019 von meinem Vater übernommen. Ehrlich: Das Schwierigste war nicht "
                     "das Steuerliche, sondern dass die Kunden weiter ihn angerufen haben. Wir haben dann klar "
                     "kommuniziert: Ab 1. Juli entscheidet Sabine. Er war noch ein Jahr als Berater da, "
                     "**ohne Unterschriftsrecht**.", [
                ("baecker", "Ohne Unterschriftsrecht – das ist ein guter Punkt. Wie hat er das aufgenommen?", [
                    ("dach", "Erst schlecht, dann erleichtert. Er hat gemerkt, dass er nachts wieder schläft.", [
                        ("manager", "Das kenne ich von meinem Vater genauso. Ein fester Termin pro Woche, an dem "
                                    "man alles bespricht, hat bei uns den Rest der Woche ruhig gehalten.", []),
                    ]),
                ]),
            ]),
            ("manager", "Zu Frage 2: Lasst euch unbedingt von der **Betriebsberatung der Handwerkskammer** "
                        "begleiten, das ist kostenlos. Bei uns war es eine Schenkung mit Versorgungsleistung – "
                        "aber das hängt stark von den Geschwistern ab.", [
                ("baecker", "Geschwister gibt es, der Sohn ist Lehrer und will den Betrieb nicht. Genau da liegt "
                            "die Baustelle. Ich melde mich bei der Kammer.", []),
            ]),
        ],
    },
    {
        "board": 1, "author": "elektro", "days": 41, "tags": ["nachfolge"],
        "title": "Externe Nachfolge: Geselle will den Betrieb übernehmen, hat aber kein Eigenkapital",
        "body": "Mein Chef (68) möchte aufhören, und ich würde den Betrieb gern übernehmen. Meister habe ich seit "
                "2021, aber Eigenkapital so gut wie keins. Die Bank redet von 20 % Eigenanteil.\n\nHat jemand "
                "Erfahrung mit Verkäuferdarlehen oder den Programmen der NRW.BANK?",
        "replies": [
            ("manager", "Schau dir die **Meistergründungsprämie NRW** und das Programm „NRW.BANK.Gründung und "
                        "Wachstum“ an. Ein Verkäuferdarlehen für einen Teil des Kaufpreises ist übrigens ganz "
                        "normal – das zeigt der Bank auch, dass der Alte an dich glaubt.", [
                ("elektro", "Die Meistergründungsprämie kannte ich nicht. Gilt die auch bei Übernahme?", [
                    ("manager", "Ja, Übernahme zählt als Gründung. Frag beim Gründungsberater der Kammer nach.", []),
                ]),
            ]),
            ("kfz", "Bei meinem Schwager lief es über fünf Jahre gestaffelt: erst 25 % Anteile, dann schrittweise "
                    "mehr. So konnte er aus den Gewinnen nachkaufen.", []),
        ],
    },
    {
        "board": 2, "author": "manager", "days": 88, "tags": ["klima-und-energie", "kundenbeduerfnisse"],
        "title": "Wärmepumpe im Altbau: 60er-Jahre-Haus mit alten Rippenheizkörpern",
        "body": "Kundin mit Einfamilienhaus Baujahr 1964, teilweise gedämmt, neue Fenster, alte Gussheizkörper. "
                "Die Nachbarn haben ihr erzählt, Wärmepumpe gehe im Altbau „sowieso nicht“.\n\nWir haben eine "
                "raumweise Heizlastberechnung gemacht: Mit **55 °C Vorlauf** reicht es, wenn wir zwei Heizkörper im "
                "Wohnzimmer tauschen. Wie argumentiert ihr bei solchen Kunden?",
        "replies": [
            ("elektro", "Von der Elektroseite: Klärt früh die Anmeldung beim Netzbetreiber und ob ein zweiter "
                        "Zähler nach §14a EnWG Sinn macht. Das dauert hier im Moment sechs bis acht Wochen.", [
                ("manager", "Guter Hinweis, das vergessen wir im Angebot regelmäßig. Machst du uns da eine "
                            "Pauschale?", [
                    ("elektro", "Können wir machen. Zählerschrank prüfen, Anmeldung, Steuerleitung – "
                                "ich schick dir was.", []),
                ]),
            ]),
            ("dach", "Bei den 60er-Häusern lohnt oft die **Kellerdeckendämmung** vorher, kostet wenig und senkt "
                     "die Heizlast spürbar. Die Kunden glauben Zahlen eher als Argumenten.", []),
            ("member", "Wir haben genau so ein Haus (Baujahr 1962) seit zwei Wintern mit Wärmepumpe. Stromverbrauch "
                       "im Jahr gut 4.200 kWh für Heizung und Warmwasser. Gerne als Referenz weitergeben.", [
                ("manager", "Das ist Gold wert, danke Jan! Darf die Kundin dich anrufen?", [
                    ("member", "Klar, gib ihr meine Nummer.", []),
                ]),
            ]),
        ],
    },
    {
        "board": 2, "author": "member", "days": 55, "tags": ["klima-und-energie"],
        "title": "PV auf dem Werkstattdach – Eigenverbrauch mit Maschinen und Absaugung",
        "body": "Unsere Werkstatt hat ein Satteldach mit gut 300 m² Südseite. Wir verbrauchen tagsüber viel Strom "
                "(Formatkreissäge, Absaugung, Kompressor), rund 45.000 kWh im Jahr.\n\nLohnt sich ein Speicher, "
                "oder reicht es, die großen Verbraucher in die Mittagszeit zu legen?",
        "replies": [
            ("elektro", "Bei eurem Lastprofil würde ich erst mal **ohne Speicher** planen und ein Lastmanagement "
                        "einbauen. Speicher lohnt sich im Gewerbe selten, wenn tagsüber eh gearbeitet wird.", [
                ("member", "Was kostet so ein Lastmanagement ungefähr?", [
                    ("elektro", "Je nach Umfang 2.000 bis 5.000 €. Wichtiger ist erst mal eine Lastgangmessung "
                                "über zwei Wochen, dann reden wir über echte Zahlen.", []),
                ]),
            ]),
            ("dach", "Bitte vorher die **Statik** prüfen lassen, gerade bei älteren Hallen mit Eternit. Wenn "
                     "Asbest drauf ist, muss das Dach vorher runter – dann lieber gleich neu mit PV planen.", [
                ("member", "Das Dach ist von 1994, Trapezblech. Sollte gehen, aber ich lass es prüfen.", []),
            ]),
            ("baecker", "Wir haben seit letztem Jahr 60 kWp auf der Backstube. Die Öfen laufen halt nachts, da "
                        "hilft PV wenig. Bei euch passt das viel besser.", []),
        ],
    },
    {
        "board": 3, "author": "elektro", "days": 73, "tags": ["digitalisierung", "betriebsfuehrung"],
        "title": "Digitale Zeiterfassung – welche App nutzt ihr auf der Baustelle?",
        "body": "Seit dem BAG-Urteil müssen wir die Arbeitszeit erfassen, und die Stundenzettel auf Papier "
                "nerven alle. Wir sind 9 Leute, meistens auf Baustellen.\n\nAnforderungen:\n\n- läuft auf dem "
                "Handy, auch offline\n- Zeiten pro Auftrag\n- Export an den Steuerberater\n\nWas nutzt ihr, "
                "und was kostet es pro Kopf?",
        "replies": [
            ("kfz", "Wir haben die Zeiterfassung in unserer Werkstattsoftware, das Stempeln läuft über ein Tablet "
                    "am Eingang. Für Baustellen taugt das aber nicht.", []),
            ("manager", "Wir nutzen seit einem Jahr eine Handwerker-App mit Auftragszeiten, ca. 8 € pro Nutzer "
                        "und Monat. Wichtigster Tipp: **Die Monteure bei der Auswahl mitentscheiden lassen.** "
                        "Die erste App haben sie boykottiert.", [
                ("elektro", "Was war an der ersten App so schlimm?", [
                    ("manager", "Zu viele Pflichtfelder. Wer um 17 Uhr auf dem Gerüst steht, will einen Knopf "
                                "drücken und fertig.", [
                        ("friseur", "So geht's mir mit jeder Kassensoftware auch 😄 Weniger ist mehr.", []),
                    ]),
                ]),
            ]),
            ("friseur", "Kleiner Hinweis zum Datenschutz: GPS-Ortung nur, wenn ihr das sauber begründet und "
                        "schriftlich vereinbart. Da hatte eine Kollegin richtig Ärger.", []),
        ],
    },
    {
        "board": 4, "author": "friseur", "days": 30, "tags": ["kundenbeduerfnisse", "betriebsfuehrung"],
        "title": "Preiserhöhungen erklären, ohne Stammkunden zu verlieren",
        "body": "Ich muss zum 1. des Monats die Preise um rund 8 % anheben (Miete, Energie, Mindestlohn). "
                "Letztes Mal gab es böse Kommentare und zwei Stammkundinnen sind weg.\n\nWie kommuniziert ihr das? "
                "Aushang, persönlich, mit Begründung oder ohne?",
        "replies": [
            ("baecker", "Wir hängen immer **vier Wochen vorher** einen Aushang auf, mit einem Satz Begründung und "
                        "einem ehrlichen Dank an die Kunden. Wer fragt, bekommt die Zahlen: Mehl +30 %, "
                        "Energie verdoppelt. Die meisten verstehen das.", [
                ("friseur", "Vier Wochen vorher finde ich gut – dann ist es beim Termin kein Überfall mehr.", []),
            ]),
            ("kfz", "Nicht entschuldigen! Wer sich rechtfertigt, lädt zum Verhandeln ein. Freundlich, klar, und "
                    "die Leistung in den Vordergrund stellen.", [
                ("member", "Sehe ich genauso. Wir schreiben inzwischen im Angebot aus, was alles drin ist – "
                           "Anfahrt, Entsorgung, Dokumentation. Dann wirkt der Preis weniger nackt.", []),
            ]),
        ],
    },
    {
        "board": 3, "author": "dach", "days": 12, "tags": ["digitalisierung", "kundenbeduerfnisse"],
        "title": "Drohnenaufnahmen statt Leiter – Erfahrungen bei Dachbesichtigungen?",
        "body": "Wir überlegen, für Erstbesichtigungen eine Drohne anzuschaffen. Spart Zeit, ist sicherer, und "
                "die Kunden sehen ihr Dach endlich mal selbst.\n\nBraucht man dafür den Kompetenznachweis A1/A3, "
                "und wie sieht es mit der Versicherung aus?",
        "replies": [
            ("elektro", "Unter 250 g reicht die Registrierung, darüber braucht ihr den kleinen Kompetenznachweis. "
                        "Die Betriebshaftpflicht deckt Drohnen meistens **nicht** – extra versichern!", [
                ("dach", "Danke, dann frag ich erst bei unserem Versicherer nach.", []),
            ]),
        ],
    },
]

PLATFORM = [
    {
        "cluster": None, "author": "outsider", "days": 46, "tags": ["klima-und-energie", "betriebsfuehrung"],
        "title": "Welche Förderprogramme nutzt ihr gerade für den eigenen Betrieb?",
        "body": "Hallo in die Runde aus dem Ruhrgebiet! Wir wollen die Werkstatt energetisch sanieren "
                "(Dach, Fenster, Wärmepumpe) und blicken bei der Förderung nicht mehr durch: BAFA, KfW, "
                "progres.nrw …\n\nWas habt ihr zuletzt tatsächlich bewilligt bekommen?",
        "replies": [
            ("member", "Bei uns lief die PV-Anlage über **progres.nrw**, das ging überraschend schnell. "
                       "Wichtig: Antrag **vor** der Auftragsvergabe stellen!", [
                ("outsider", "Genau das ist mir beim letzten Mal passiert – Auftrag unterschrieben, Förderung weg.", [
                    ("ruhr_manager", "Kenne ich. Wir schreiben inzwischen in jedes Angebot den Hinweis, dass die "
                                     "Förderung vorher beantragt sein muss.", []),
                ]),
            ]),
            ("manager", "Die Energieberatung für Nichtwohngebäude (BAFA) hat uns 80 % der Beratungskosten "
                        "erstattet. Lohnt sich als erster Schritt.", []),
        ],
    },
    {
        "cluster": None, "author": "manager", "days": 20, "tags": ["nachwuchs-und-ausbildung"],
        "title": "Prüfungsausschüsse suchen Leute – wer macht clusterübergreifend mit?",
        "body": "Die Gesellenprüfungsausschüsse bei uns im Münsterland suchen dringend Prüferinnen und Prüfer, "
                "im Ruhrgebiet ist es wohl ähnlich. Wer von euch ist dabei, und wie viel Zeit kostet das "
                "realistisch im Jahr?",
        "replies": [
            ("ruhr_dach", "Ich prüfe seit acht Jahren, etwa sechs Tage im Jahr. Man bleibt fachlich auf dem "
                          "Laufenden und lernt die Azubis anderer Betriebe kennen – gut fürs Recruiting 😉", [
                ("manager", "Das Recruiting-Argument hatte ich noch gar nicht auf dem Schirm.", []),
            ]),
            ("ruhr_friseur", "Bei den Friseuren ist es genauso knapp. Ich mach's, weil ich selbst gute Prüfer "
                             "hatte. Die Freistellung ist gesetzlich geregelt, das wissen viele nicht.", []),
        ],
    },
]
