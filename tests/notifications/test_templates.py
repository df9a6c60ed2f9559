"""The wording of every message, in English and Swahili."""

from __future__ import annotations

import re

import pytest

from notifications.models import Locale, TemplateKey
from notifications.templates import TEMPLATES, render

CONTEXT = {"wallet": "google_pay", "card_last4": "1111", "code": "482913",
           "expires_minutes": 10}
# The messages about the customer's own card in a wallet (transfers' messages:
# test_transfer_templates.py).
CARD_KEYS = [key for key in TemplateKey.values if not key.startswith("transfer_")]


def test_every_event_has_a_message_in_both_languages():
    for locale in Locale.values:
        assert set(TEMPLATES[locale]) == set(TemplateKey.values)


@pytest.mark.parametrize("locale", Locale.values)
@pytest.mark.parametrize("template_key", CARD_KEYS)
def test_every_message_names_the_wallet_and_the_last_four_and_no_other_card_digits(
        template_key, locale):
    message = render(template_key, locale, CONTEXT)
    assert "Google Pay" in message.body and "1111" in message.body
    digit_runs = re.findall(r"\d+", message.body.replace(CONTEXT["code"], ""))
    assert all(len(run) <= 4 for run in digit_runs)


@pytest.mark.parametrize("locale", Locale.values)
def test_only_the_step_up_message_carries_the_code(locale):
    carrying = [key for key in CARD_KEYS
                if "482913" in render(key, locale, CONTEXT).body]
    assert carrying == [TemplateKey.STEP_UP_CODE]


def test_a_provisioned_card_reads_in_swahili():
    message = render(TemplateKey.PROVISIONED, "sw", CONTEXT)
    assert message.body.startswith(
        "Kadi yako ya M-Pesa Visa inayoishia 1111 imeongezwa kwenye Google Pay.")
    assert message.title == "Kadi imeongezwa kwenye Google Pay"


@pytest.mark.parametrize("template_key,english,swahili", [
    (TemplateKey.DECLINED, "could not be added to Apple Pay",
     "haikuweza kuongezwa kwenye Apple Pay"),
    (TemplateKey.TOKEN_SUSPENDED, "has been suspended in Apple Pay",
     "imesimamishwa kwa muda kwenye Apple Pay"),
    (TemplateKey.TOKEN_RESUMED, "can be used in Apple Pay again",
     "inaweza kutumika tena kwenye Apple Pay"),
    (TemplateKey.TOKEN_DELETED, "has been removed from Apple Pay",
     "imeondolewa kwenye Apple Pay"),
])
def test_each_language_says_what_happened(template_key, english, swahili):
    context = {**CONTEXT, "wallet": "apple_pay"}
    assert english in render(template_key, "en", context).body
    assert swahili in render(template_key, "sw", context).body


def test_a_card_whose_last_four_are_not_known_yet_still_reads_naturally():
    context = {"wallet": "samsung_pay", "card_last4": ""}
    assert render(TemplateKey.FAILED, "en", context).body.startswith(
        "Something went wrong while adding your M-Pesa Visa card to Samsung Pay.")
    assert render(TemplateKey.FAILED, "sw", context).body.startswith(
        "Hitilafu imetokea wakati wa kuongeza kadi yako ya M-Pesa Visa kwenye Samsung Pay.")


def test_an_unknown_language_falls_back_to_english():
    assert render(TemplateKey.PROVISIONED, "fr", CONTEXT) == render(
        TemplateKey.PROVISIONED, "en", CONTEXT)


def test_a_missing_value_is_a_loud_error_not_a_blank_in_the_message():
    with pytest.raises(KeyError):
        render(TemplateKey.STEP_UP_CODE, "en", {"wallet": "google_pay", "card_last4": "0010"})
