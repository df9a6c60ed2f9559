"""The wording of a transfer's end, in English and Swahili: amount from minor units, the
payee's name and last four, delivery time, and a rejection's reason in customer words."""

from __future__ import annotations

import re

import pytest

from notifications.models import Locale, TemplateKey
from notifications.templates import format_money, render

TRANSFER_KEYS = [TemplateKey.TRANSFER_COMPLETED, TemplateKey.TRANSFER_DECLINED,
                 TemplateKey.TRANSFER_REJECTED]
CONTEXT = {"amount": 150_000, "fee": 3_050, "total": 153_050, "currency": "KES",
           "delivery": "instant", "payee_name": "JANE WANJIKU", "payee_last4": "0010",
           "reason": "insufficient_funds"}


@pytest.mark.parametrize("minor,text", [
    (150_000, "KES 1,500.00"), (5, "KES 0.05"), (100, "KES 1.00"),
    (123_456_789, "KES 1,234,567.89"), (0, "KES 0.00"),
])
def test_money_is_shown_in_shillings_and_cents_from_minor_units(minor, text):
    assert format_money(minor) == text


@pytest.mark.parametrize("locale", Locale.values)
@pytest.mark.parametrize("template_key", TRANSFER_KEYS)
def test_every_transfer_message_names_the_amount_the_payee_and_four_digits_of_the_card(
        template_key, locale):
    message = render(template_key, locale, CONTEXT)
    assert "KES 1,500.00" in message.body
    assert "JANE WANJIKU" in message.body and "0010" in message.body
    digit_runs = re.findall(r"\d+", re.sub(r"KES [\d,]+\.\d\d", "", message.body))
    assert digit_runs and all(len(run) <= 4 for run in digit_runs)
    assert message.title and "{" not in message.body + message.title


def test_a_completed_instant_transfer_says_the_money_is_on_the_card_now():
    english = render(TemplateKey.TRANSFER_COMPLETED, "en", CONTEXT)
    assert english.title == "Money sent"
    assert english.body == ("You have sent KES 1,500.00 to JANE WANJIKU, Visa card ending 0010. "
                            "The money is on the card now. Fee: KES 30.50.")
    swahili = render(TemplateKey.TRANSFER_COMPLETED, "sw", CONTEXT)
    assert swahili.title == "Pesa zimetumwa"
    assert swahili.body == ("Umetuma KES 1,500.00 kwa JANE WANJIKU, kadi ya Visa inayoishia "
                            "0010. Pesa zimefika kwenye kadi sasa hivi. Ada: KES 30.50.")


def test_a_completed_transfer_without_fast_funds_says_within_two_business_days():
    context = {**CONTEXT, "delivery": "within_2_business_days"}
    assert "will reach the card within 2 business days." in render(
        TemplateKey.TRANSFER_COMPLETED, "en", context).body
    assert "Pesa zitafika kwenye kadi ndani ya siku 2 za kazi." in render(
        TemplateKey.TRANSFER_COMPLETED, "sw", context).body


def test_a_declined_transfer_says_amount_and_fee_went_back_to_the_m_pesa_balance():
    english = render(TemplateKey.TRANSFER_DECLINED, "en", CONTEXT).body
    assert "KES 1,530.50 (the amount and the fee) has been returned to your M-Pesa balance." \
        in english
    swahili = render(TemplateKey.TRANSFER_DECLINED, "sw", CONTEXT).body
    assert "umekataliwa" in swahili
    assert "KES 1,530.50 (kiasi pamoja na ada) zimerudishwa kwenye salio lako la M-Pesa." \
        in swahili


@pytest.mark.parametrize("reason,english,swahili", [
    ("insufficient_funds", "your M-Pesa balance cannot cover the amount and the fee.",
     "salio lako la M-Pesa halitoshi kulipia kiasi hiki pamoja na ada."),
    ("card_cannot_receive", "this card cannot receive money transfers.",
     "kadi hii haiwezi kupokea pesa zinazotumwa."),
    ("limit_exceeded", "it is above your transfer limit.",
     "kiasi hiki kimezidi kikomo chako cha kutuma pesa."),
    ("payee_deleted", "the recipient was removed from your list.",
     "mpokeaji aliondolewa kwenye orodha yako."),
    ("cannot_be_made", "this transfer cannot be made.", "uhamisho huu hauwezi kufanyika."),
    ("try_again", "Please try again later.", "Tafadhali jaribu tena baadaye."),
])
def test_a_rejection_gives_its_reason_in_customer_words_and_says_no_money_was_taken(
        reason, english, swahili):
    context = {**CONTEXT, "reason": reason}
    en = render(TemplateKey.TRANSFER_REJECTED, "en", context).body
    sw = render(TemplateKey.TRANSFER_REJECTED, "sw", context).body
    assert "was not made: " in en and english in en
    assert en.endswith("No money was taken from your M-Pesa balance.")
    assert swahili in sw and "haukufanyika" in sw
    assert sw.endswith("Hakuna pesa iliyotolewa kwenye salio lako la M-Pesa.")


@pytest.mark.parametrize("locale", Locale.values)
def test_no_rejection_ever_mentions_screening_or_sanctions(locale):
    bodies = " ".join(render(TemplateKey.TRANSFER_REJECTED, locale, {**CONTEXT, "reason": r}).body
                      for r in ("cannot_be_made", "try_again"))
    assert not re.search(r"sanction|screen|vikwazo", bodies, re.IGNORECASE)


def test_a_transfer_message_missing_its_amount_is_a_loud_error():
    context = {key: value for key, value in CONTEXT.items() if key != "amount"}
    with pytest.raises(KeyError):
        render(TemplateKey.TRANSFER_COMPLETED, "en", context)


def test_an_unknown_reason_is_a_loud_error_not_a_blank():
    with pytest.raises(KeyError):
        render(TemplateKey.TRANSFER_REJECTED, "sw", {**CONTEXT, "reason": "sanctions_hit"})
