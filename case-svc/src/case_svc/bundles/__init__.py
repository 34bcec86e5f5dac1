"""One-issue applications (一件事): a bundle filed once, as one application, with a child case
at each department it concerns, each filed in the instance of its department's region through
the gateway.

- ``schemas``     the application as filed and as the applicant follows it
- ``repository``  its rows
- ``service``     filing (complete or compensate), its progress read from its children
- ``endpoints``   ``/cases/v1/bundle-applications``
"""
