"""data-exchange-svc: departments' shared data resources, the grants that open them, the hosted
population registry, and the tamper-evident ledger of every access."""
