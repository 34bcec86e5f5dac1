"""Each item's live quality: how its departments serve it, counted from other services' events.

case-svc's ``case.completed`` (with the working days the case took on the clock) and
rating-svc's ``rating.created`` and ``appeal.decided`` arrive at ``POST /catalog/v1/events``
from those services' relays, each from its own producer's client alone, processed once (the
inbox). They add to counts per item and department (``ItemQuality``, ``ItemWorkingDays``);
every process's in-memory ``QualityBoard`` reads what changed every
``quality_refresh_seconds``, and the item, its handler and search answer from it.

- ``schemas``     the events taken and the figures shown
- ``repository``  the counts' upserts and the reads of what changed
- ``service``     what each event adds
- ``board``       the in-memory figures and their refresh
- ``endpoints``   the events endpoint
"""
