"""Signals notifications send for the apps above them, which connect to these instead of
being imported here (notifications sit below the flows).

`one_time_code_undeliverable`: a one-time code's SMS has failed for good (refused, or
still failing at the end of its delivery budget). Sent inside the transaction that marks
the row failed, with `object_id` (the object the code was for), `customer_id`,
`sequence` (which code of that object: 1, then one more per resend) and `error_code`.
Receivers may only add rows or enqueue work on commit, never call outside.
"""

from django.dispatch import Signal

one_time_code_undeliverable = Signal()
