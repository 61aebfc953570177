"""The demo threads of the second cluster (format as in ``forum.demo_content``)."""
from __future__ import annotations

RUHRGEBIET = [
    {
        "board": 0, "author": "ruhr_manager", "days": 109, "tags": ["fachkraefte", "nachwuchs-und-ausbildung"],
        "title": "Fachkräfte aus dem Ausland: Anerkennung, Sprache, Wohnung – wer hat's geschafft?",
        "body": "Glück auf zusammen,\n\nwir haben über eine Agentur zwei Anlagenmechaniker aus Kolumbien in "
                "Aussicht. Die Anerkennung läuft über die Handwerkskammer, aber das Visum hängt, und eine Wohnung "
                "in Gelsenkirchen für zwei Leute ohne SCHUFA ist auch kein Selbstläufer.\n\nHat jemand das schon "
                "mal von Anfang bis Ende durchgezogen? Was würdet ihr anders machen?",
        "replies": [
            ("ruhr_kfz", "Wir haben seit 2023 einen Mechatroniker aus Tunesien. Das **beschleunigte "
                         "Fachkräfteverfahren** über die Ausländerbehörde kostet 411 €, hat aber Monate gespart.", [
                ("ruhr_manager", "Das beschleunigte Verfahren beantragt der Arbeitgeber, oder?", [
                    ("ruhr_kfz", "Genau, mit Vollmacht des Bewerbers. Die Kammer hilft beim Anerkennungsteil.", [
                        ("outsider", "Wichtig ist auch der Sprachkurs: Wir zahlen B1/B2 und geben zwei Stunden "
                                     "pro Woche bezahlt frei. Seitdem läuft's auf der Baustelle viel besser.", []),
                    ]),
                ]),
            ]),
            ("ruhr_tischler", "Zur Wohnung: Wir haben für den ersten Vertrag selbst als Mieter unterschrieben und "
                              "untervermietet. Nach einem Jahr hat der Kollege übernommen.", []),
        ],
    },
    {
        "board": 0, "author": "ruhr_kfz", "days": 67, "tags": ["nachwuchs-und-ausbildung"],
        "title": "Azubi bricht nach drei Monaten ab – hätten wir das merken können?",
        "body": "Unser Azubi hat nach der Probezeit einfach nicht mehr angerufen. Im Gespräch kam raus: Er "
                "wollte eigentlich was mit Computern machen, die Eltern wollten Kfz.\n\nWie findet ihr vorher "
                "heraus, ob jemand wirklich will?",
        "replies": [
            ("ruhr_friseur", "Ein Probearbeitstag reicht nicht. Wir machen mindestens eine Woche Praktikum und "
                             "reden am Ende **ohne Eltern** mit den Jugendlichen.", [
                ("ruhr_kfz", "Ohne Eltern – guter Punkt. Die sitzen bei uns im Gespräch immer mit am Tisch.", []),
            ]),
            ("ruhr_manager", "Frag mal bei der Kammer nach dem Ausbildungsberater. Die haben auch Programme "
                             "gegen Ausbildungsabbruch, z. B. Coaching für Azubi und Betrieb.", []),
        ],
    },
    {
        "board": 1, "author": "ruhr_tischler", "days": 92, "tags": ["nachfolge", "betriebsfuehrung"],
        "title": "Mit 63 keinen Nachfolger: verkaufen, verpachten oder schließen?",
        "body": "Ich bin 63, habe fünf Mitarbeiter und volle Auftragsbücher. Die Kinder haben andere Berufe, "
                "intern will keiner die Verantwortung.\n\nWas ist so ein Betrieb überhaupt wert? Der "
                "Steuerberater sagt Ertragswert, ein Bekannter sagt, Tischlereien verkauft man nur über die "
                "Maschinen.",
        "replies": [
            ("ruhr_dach", "Die Handwerkskammern rechnen nach dem **AWH-Standard**, das ist für kleine Betriebe "
                          "realistischer als die Formeln aus dem Lehrbuch. Lass das machen, bevor du mit "
                          "Interessenten sprichst.", [
                ("ruhr_tischler", "AWH-Standard habe ich noch nie gehört. Kostet das was?", [
                    ("ruhr_dach", "Bei uns war es eine überschaubare Gebühr. Frag bei der Betriebsberatung.", []),
                ]),
            ]),
            ("ruhr_manager", "Schau auch in die **Nachfolgebörse** (nexxt-change). Wir haben so einen "
                             "Sanitärbetrieb in Gladbeck übernommen – der Inhaber hatte schon fast aufgegeben.", [
                ("ruhr_tischler", "Das macht Mut. Wie lange hat es vom Inserat bis zum Vertrag gedauert?", [
                    ("ruhr_manager", "Knapp anderthalb Jahre. Früh anfangen ist alles.", []),
                ]),
            ]),
        ],
    },
    {
        "board": 2, "author": "ruhr_manager", "days": 80, "tags": ["klima-und-energie", "kundenbeduerfnisse"],
        "title": "Wärmepumpe im Zechenhaus: Schallschutz zum Nachbarn",
        "body": "Doppelhaushälfte in einer alten Zechensiedlung, Außeneinheit müsste in den schmalen Garten, "
                "drei Meter bis zum Schlafzimmerfenster der Nachbarn.\n\nWie löst ihr das? Schallhaube, "
                "anderes Gerät, oder lieber gleich Sole?",
        "replies": [
            ("outsider", "Wir haben in so einer Siedlung ein Gerät mit Nachtabsenkung eingebaut und die "
                         "Schallberechnung nach TA Lärm **vorher** dem Nachbarn gezeigt. Seitdem Ruhe.", [
                ("ruhr_manager", "Den Nachbarn vorher einbinden – das machen wir viel zu selten.", []),
            ]),
            ("ruhr_dach", "Bei einer Kundin in Herne steht die Außeneinheit auf dem Garagendach. Statik prüfen, "
                          "Körperschallentkopplung – aber dann ist es die leiseste Lösung.", []),
        ],
    },
    {
        "board": 2, "author": "ruhr_baecker", "days": 58, "tags": ["klima-und-energie", "betriebsfuehrung"],
        "title": "Energiekosten in der Backstube: Ofen von Gas auf Strom umstellen?",
        "body": "Unsere Gas-Etagenöfen sind 22 Jahre alt. Der Händler empfiehlt Elektro-Etagenöfen, "
                "zusammen mit einer PV-Anlage. Aber wir backen ab 2 Uhr nachts – da scheint keine Sonne.\n\n"
                "Hat das jemand durchgerechnet?",
        "replies": [
            ("outsider", "Lass dir einen Lastgang messen. Bei Nachtbetrieb bringt PV direkt wenig, aber ein "
                         "**dynamischer Stromtarif** kann nachts richtig günstig sein.", [
                ("ruhr_baecker", "Dynamischer Tarif im Gewerbe – geht das überhaupt mit unserem Zähler?", [
                    ("outsider", "Ihr braucht ein intelligentes Messsystem. Das kann der Messstellenbetreiber "
                                 "einbauen, dauert aber.", [
                        ("ruhr_baecker", "Dann fange ich da an. Danke, Deniz!", []),
                    ]),
                ]),
            ]),
            ("ruhr_manager", "Die Abwärme der Öfen nicht vergessen: Wir haben bei einer Bäckerei in Bottrop die "
                             "Brauchwassererwärmung darüber gelöst.", []),
        ],
    },
    {
        "board": 3, "author": "ruhr_dach", "days": 36, "tags": ["digitalisierung"],
        "title": "Digitale Auftragsmappe statt Zettelwirtschaft – wie habt ihr die Kolonnen überzeugt?",
        "body": "Wir wollen weg von der Mappe im Bulli: Fotos, Aufmaß und Materialliste sollen direkt aufs "
                "Tablet. Zwei meiner Vorarbeiter sind Ende 50 und winken ab.\n\nWie habt ihr das eingeführt?",
        "replies": [
            ("ruhr_kfz", "Einen jungen Gesellen zum „Paten“ machen, der den anderen hilft. Und die ersten "
                         "vier Wochen Papier **und** Tablet parallel, dann nur noch Tablet.", []),
            ("ruhr_tischler", "Bei uns hat überzeugt, dass die Fotos automatisch beim Auftrag landen. Keiner "
                              "muss mehr abends WhatsApp-Bilder sortieren.", [
                ("ruhr_dach", "Das WhatsApp-Chaos ist genau unser Problem. Datenschutz ist da auch so eine "
                              "Sache …", []),
            ]),
        ],
    },
    {
        "board": 4, "author": "ruhr_friseur", "days": 25, "tags": ["kundenbeduerfnisse"],
        "title": "Preiserhöhung: Aushang oder persönlich ansprechen?",
        "body": "Ich muss die Preise anheben und habe Angst, dass die älteren Stammkundinnen wegbleiben. "
                "Manche kommen seit 20 Jahren jede Woche zum Waschen und Legen.\n\nMacht ihr einen Aushang, "
                "oder sprecht ihr jede einzeln an?",
        "replies": [
            ("ruhr_baecker", "Bei den ganz treuen Kundinnen persönlich, sonst Aushang. Wir haben für Rentner "
                             "einen Dienstagsrabatt eingeführt – der kostet wenig und nimmt viel Druck raus.", [
                ("ruhr_friseur", "Dienstags ist bei uns eh wenig los – das könnte passen!", []),
            ]),
            ("outsider", "Und nicht vergessen: Preise auf der Website und bei Google gleich mit ändern. "
                         "Nichts ärgert Kunden mehr als zwei verschiedene Preise.", []),
        ],
    },
    {
        "board": 4, "author": "outsider", "days": 9, "tags": ["kundenbeduerfnisse", "digitalisierung"],
        "title": "Schlechte Google-Bewertung: antworten oder ignorieren?",
        "body": "Ein Kunde hat uns einen Stern gegeben, weil der Monteur 20 Minuten zu spät war. Der Rest des "
                "Auftrags war einwandfrei, die Rechnung hat er sofort bezahlt.\n\nAntwortet ihr auf so was "
                "öffentlich?",
        "replies": [
            ("ruhr_kfz", "Immer antworten, kurz und sachlich: Entschuldigung für die Verspätung, Dank für den "
                         "Auftrag, Telefonnummer für Rückfragen. Die Antwort lesen ja vor allem die **nächsten** "
                         "Kunden.", [
                ("outsider", "Sachlich bleiben fällt schwer, wenn man sich ungerecht behandelt fühlt 😤", [
                    ("ruhr_friseur", "Einen Tag liegen lassen, dann schreiben. Hat mir viel Ärger erspart.", []),
                ]),
            ]),
        ],
    },
]
