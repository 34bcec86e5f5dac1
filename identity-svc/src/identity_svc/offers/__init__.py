"""Proactive offers: a life event of hers registered elsewhere (a birth at the hospital, an ID
card about to expire) becomes an offer in her inbox to file what it calls for in one step.

data-exchange-svc posts its ``life.*`` events to ``POST /identity/v1/events`` (its client
alone, each event once); the table ``offers.toml`` says what each type offers. Nothing is filed
until she confirms: then identity-svc acts as her, with her own token, through the gateway
(``identity_svc.offers.confirmation``). An offer is open, confirmed or declined; past its
``expires_at`` an open one reads ``expired``.
"""
