"""Realistic customer emails in seven languages, for the language detection tests."""

PARAGRAPHS = {
    "de": (
        "Sehr geehrte Damen und Herren,\n\n"
        "ich habe am Montag eine Bestellung über Ihren Online-Shop aufgegeben und bis heute "
        "keine Versandbestätigung erhalten. Könnten Sie mir bitte mitteilen, wann die Ware "
        "voraussichtlich bei mir eintrifft? Die Rechnung habe ich bereits bezahlt.\n\n"
        "Mit freundlichen Grüßen\nKlaus Becker"
    ),
    "fr": (
        "Bonjour,\n\n"
        "Je vous écris au sujet de ma facture du mois dernier : le montant prélevé ne "
        "correspond pas à celui indiqué sur mon contrat. Pourriez-vous vérifier mon dossier "
        "et me rappeler dès que possible ? Je reste joignable toute la journée.\n\n"
        "Cordialement,\nSophie Martin"
    ),
    "es": (
        "Hola,\n\n"
        "Quería consultar el estado de mi pedido, que realicé hace ya dos semanas. En la "
        "página de seguimiento sigue apareciendo como pendiente y no he recibido ningún "
        "correo con el número de envío. ¿Me podrían ayudar, por favor?\n\n"
        "Un saludo,\nLucía García"
    ),
    "it": (
        "Buongiorno,\n\n"
        "vi scrivo perché il prodotto che ho ricevuto ieri è arrivato danneggiato: la "
        "scatola era aperta e mancano alcuni pezzi. Vorrei sapere come posso restituirlo e "
        "se è possibile ricevere una sostituzione in tempi brevi.\n\n"
        "Grazie mille,\nMarco Rossi"
    ),
    "nl": (
        "Goedemiddag,\n\n"
        "Ik heb vorige week een klacht ingediend over mijn abonnement, maar ik heb nog "
        "steeds geen reactie gekregen. Zou u kunnen laten weten wanneer ik een antwoord kan "
        "verwachten? Het gaat om een dubbele afschrijving van mijn rekening.\n\n"
        "Met vriendelijke groet,\nJan de Vries"
    ),
    "pt": (
        "Olá,\n\n"
        "Gostaria de saber se ainda é possível alterar o endereço de entrega da minha "
        "encomenda. Mudei de casa na semana passada e receio que o pacote seja enviado para "
        "a morada antiga. Agradeço desde já a vossa ajuda.\n\n"
        "Atenciosamente,\nAna Pereira"
    ),
    "en": (
        "Hello,\n\n"
        "I ordered a replacement charger from your website last Thursday and the tracking "
        "page still says the parcel has not left the warehouse. Could you let me know when "
        "it is likely to ship? I need it before the end of the month.\n\n"
        "Kind regards,\nEmily Clarke"
    ),
}
