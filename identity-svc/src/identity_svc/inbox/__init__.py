"""The citizen's inbox: what happened to her cases, gathered in one place, read or unread.

Owned by identity-svc, because the inbox is the account's: one per citizen (or enterprise),
whichever case-svc instance keeps each case, beside the phone it texts through the SMS sender
seam that already reaches her. case-svc's relay posts its case events to
``POST /identity/v1/events`` (its client alone, each event once); each becomes a message, as
codes the app words; what waits on her (a supplement asked for) also texts her phone, without
personal data. rating-svc's report of a rectification joins it, and data-exchange-svc's life
events as offers (``identity_svc.offers``), and each access to her data the exchange's ledger
recorded (``data.accessed``) as a notice, for her to know (no text).
"""
