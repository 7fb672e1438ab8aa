"""The adjustable clock: move the whole system's time forward for demos, training and dry runs.

Enabled with ``ESTATEFLOW_CLOCK=adjustable`` and refused in production. The offset lives in
the database so that every process (web workers, scheduler) sees the same shifted time.
"""
