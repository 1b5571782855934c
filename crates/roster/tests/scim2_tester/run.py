"""Runs scim2-tester, a SCIM 2.0 conformance tester, against a Roster server and prints one
JSON object per check. Usage: python run.py BASE_URL TOKEN

The tester fills every attribute the server's schemas describe with random text. A schema can't
say which text an attribute takes, so the tester is told, as examples, the forms Roster checks:
usernames in user principal name form, phone numbers as Roster writes them (E.164, so that what
is read back is what was sent), language tags, and employee numbers of Graph's length.

Nor can a schema say which values of a multi-valued attribute go together. Roster's primary
email is the work one and the others are alternates, so the tester writes the primary, work
address; an address's parts belong to the work address and `formatted` (the office location,
as Entra ID maps it) to the address of type "other", so the tester writes work addresses and
leaves `formatted` alone. Roster's own tests cover the alternates and the office.
"""

import json
import sys
import uuid
from typing import get_args

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Mutability
from scim2_tester import check_server


def model_of(model, field):
    """The model a complex (or multi-valued complex) field holds."""
    annotation = model.model_fields[field].annotation
    while get_args(annotation):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    return annotation


def examples(model, field, values):
    model.model_fields[field].examples = values


class FreshUsernames:
    """Examples the tester picks from at random, each pick a username never given before: from a
    list of examples, however long, two users of one run are now and then given the same name,
    which Roster refuses as taken."""

    def __len__(self):
        return 1_000_000

    def __getitem__(self, _):
        return f"tester.{uuid.uuid4().hex}@contoso.com"


base, token = sys.argv[1], sys.argv[2]
client = SyncSCIMClient(Client(base_url=base, headers={"Authorization": f"Bearer {token}"}))
client.discover()

user = client.get_resource_model("User")
examples(user, "user_name", FreshUsernames())
examples(user, "preferred_language", ["en-US", "fr-CA", "de-DE"])
examples(user, "locale", ["en-GB", "nl-NL"])
examples(model_of(user, "phone_numbers"), "value", ["+14255550100", "+442079460958", "+33142685300"])
emails = model_of(user, "emails")
examples(emails, "type", ["work"])
examples(emails, "primary", [True])
address = model_of(user, "addresses")
examples(address, "type", ["work"])
formatted = address.model_fields["formatted"].metadata
formatted[:] = [Mutability.read_only if isinstance(m, Mutability) else m for m in formatted]
enterprise = model_of(user, "EnterpriseUser")
examples(enterprise, "employee_number", ["701984", "E-1002", "42"])

for result in check_server(client, raise_exceptions=False):
    print(json.dumps({
        "status": result.status.name,
        "resource_type": result.resource_type,
        "title": result.title,
        "reason": result.reason or "",
    }))
