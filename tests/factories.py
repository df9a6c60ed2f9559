"""factory-boy factories that build rows directly in the state a test needs.

The state fields are protected (no assignment after load); passing `state=` at
construction is the one sanctioned bypass, and it lives only here.
"""

import uuid

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from core.models import TransitionLog
from provisioning.models import ProvisioningRequest, State, Wallet
from tokens.models import Token, TokenState


class ProvisioningRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProvisioningRequest

    customer_id = "cust_test"
    card_id = "card_green"
    wallet = Wallet.GOOGLE_PAY
    device_id = factory.LazyFunction(lambda: f"dev-{uuid.uuid4().hex[:10]}")
    device_type = "phone"
    device_os = "android-15"
    state = State.RECEIVED
    card_last4 = "1111"
    due_at = factory.LazyFunction(timezone.now)


class TokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Token

    provisioning_request = factory.SubFactory(ProvisioningRequestFactory, state=State.PROVISIONED,
                                              due_at=None)
    customer_id = factory.SelfAttribute("provisioning_request.customer_id")
    card_id = factory.SelfAttribute("provisioning_request.card_id")
    wallet = factory.SelfAttribute("provisioning_request.wallet")
    device_id = factory.SelfAttribute("provisioning_request.device_id")
    token_ref = factory.LazyFunction(lambda: f"tkn_{uuid.uuid4().hex}")
    token_last4 = "4242"
    token_expiry = "12/29"
    pan_fingerprint = factory.LazyFunction(lambda: uuid.uuid4().hex * 2)
    state = TokenState.ACTIVE
    # A suspended token is the customer's own suspension unless a test says otherwise.
    suspended_by = factory.LazyAttribute(
        lambda token: "customer" if token.state == TokenState.SUSPENDED else "")


def staff_member(username: str, group: str) -> User:
    """A staff user in one of the seeded groups (operations, support), fresh from the
    database so its permission cache is empty."""
    user = User.objects.create_user(username, password="x" * 14, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)


def logged_path(obj) -> list[str]:
    """The states an object moved to, in order, as its transition log has them."""
    return list(TransitionLog.objects.filter(object_id=obj.pk).order_by("id")
                .values_list("to_state", flat=True))
