"""``notify``'s ``customer:<id>`` recipient: a customer record, resolved when the message is
sent, so the workflow data (instance state, history) carries the reference and never the
phone number behind it.

* An active customer with a portal account (``user_id``): that user (in-app, and SMS to the
  phone on the account).
* Otherwise the phone on record (decrypted here, at send time): an SMS to that number.
* Neither (no phone; an anonymised record): nobody, like a case whose owner cannot be reached.

A merged record stands for the one it was merged into. A customer of another project than the
instance's is an error (the task becomes an incident).

Importing this module registers the kind with the engine (:mod:`app.billing.dunning` imports
it; the app imports that).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, select

from app.engine.services import ServiceContext, ServiceTaskError, register_recipient_kind
from app.extensions import db
from app.notifications.recipients import Recipient
from app.records.models import Customer
from app.records.protect import phone_e164

KIND = "customer"
#: Merge chains (A merged into B, B later into C) followed this far at most.
MAX_MERGE_HOPS = 5

#: Built once (a reminder pass resolves one customer per reminder): only what resolving reads,
#: as a plain row, by a bound id. Unscoped: the project is checked against the instance's
#: below, so a customer of another project is reported as such whoever runs the step.
_CUSTOMER = (
    select(Customer.project_id, Customer.status, Customer.user_id, Customer.phone_enc,
           Customer.merged_into_id)
    .where(Customer.id == bindparam("customer_id"))
    .execution_options(all_projects=True))


def customer_ref(customer_id: int) -> str:
    """What a flow's data holds for a customer to notify: ``customer:<id>``."""
    return f"{KIND}:{customer_id}"


def _load(customer_id: int, ref: str, project_id: int) -> Row[Any]:
    # On the transaction's connection: a plain row, past the ORM's per-statement work.
    customer = db.session.connection().execute(_CUSTOMER, {"customer_id": customer_id}).first()
    if customer is None:
        raise ServiceTaskError(f"recipient {ref!r}: no customer with id {customer_id}")
    if customer.project_id != project_id:
        raise ServiceTaskError(
            f"recipient {ref!r}: customer {customer_id} belongs to project "
            f"{customer.project_id}, not to this instance's project {project_id}")
    return customer


def customer_recipients(value: str, context: ServiceContext) -> list[Recipient]:
    """The recipients of ``customer:<value>`` for a task of ``context`` (see the module)."""
    ref = f"{KIND}:{value}"
    if not value.isdigit():
        raise ServiceTaskError(f"recipient {ref!r}: the customer id must be a number")
    customer = _load(int(value), ref, context.project_id)
    hops = 0
    while customer.status == "merged" and customer.merged_into_id is not None:
        hops += 1
        if hops > MAX_MERGE_HOPS:
            raise ServiceTaskError(f"recipient {ref!r}: more than {MAX_MERGE_HOPS} merges to "
                                   "follow")
        customer = _load(customer.merged_into_id, ref, context.project_id)
    if customer.status != "active":
        return []
    if customer.user_id is not None:
        return [Recipient.user(customer.user_id)]
    phone = phone_e164(customer.phone_enc)
    return [Recipient.to_stored_phone(phone)] if phone else []


def register() -> None:
    register_recipient_kind(KIND, customer_recipients, usage="customer:<id>")


register()
