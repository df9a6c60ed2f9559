"""What each notification says, in English and Swahili.

One entry per event: a push title and a body (the body alone is the SMS). A message
names the wallet and the card's last four digits, never more of the card; the
one-time code appears only in `step_up_code`, which is sent by SMS only. A transfer's
message names the amount (formatted here from minor units), the payee's name and the
last four of the payee's card; a rejection says why in the customer's words, from a
reason key the transfers app chose (never the failure code, never "sanctions").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .models import Locale, TemplateKey

WALLET_NAMES = {
    "google_pay": "Google Pay",
    "apple_pay": "Apple Pay",
    "samsung_pay": "Samsung Pay",
}

# "ending 1111" after the card's name, or nothing when the last four are not known yet
# (a request that failed before the issuer answered).
_ENDING = {Locale.ENGLISH: " ending {last4}", Locale.SWAHILI: " inayoishia {last4}"}
_ANY_WALLET = {Locale.ENGLISH: "your wallet", Locale.SWAHILI: "pochi yako ya kidijitali"}

# When the money reaches the payee's card (the transfer's `delivery`).
_DELIVERY = {
    Locale.ENGLISH: {
        "instant": "The money is on the card now.",
        "within_2_business_days": "The money will reach the card within 2 business days.",
    },
    Locale.SWAHILI: {
        "instant": "Pesa zimefika kwenye kadi sasa hivi.",
        "within_2_business_days": "Pesa zitafika kwenye kadi ndani ya siku 2 za kazi.",
    },
}
# Why a transfer was not made, by the reason key the transfers app sends. Each is the end
# of the sentence "... was not made: <reason>". A screening hit or a review rejection
# reads `cannot_be_made` alone: the customer is never told a name was screened.
_REASONS = {
    Locale.ENGLISH: {
        "insufficient_funds": "your M-Pesa balance cannot cover the amount and the fee.",
        "card_cannot_receive": "this card cannot receive money transfers.",
        "limit_exceeded": "it is above your transfer limit.",
        "payee_deleted": "the recipient was removed from your list.",
        "cannot_be_made": "this transfer cannot be made.",
        "try_again": "we could not complete it right now. Please try again later.",
    },
    Locale.SWAHILI: {
        "insufficient_funds": "salio lako la M-Pesa halitoshi kulipia kiasi hiki pamoja na ada.",
        "card_cannot_receive": "kadi hii haiwezi kupokea pesa zinazotumwa.",
        "limit_exceeded": "kiasi hiki kimezidi kikomo chako cha kutuma pesa.",
        "payee_deleted": "mpokeaji aliondolewa kwenye orodha yako.",
        "cannot_be_made": "uhamisho huu hauwezi kufanyika.",
        "try_again": "hatukuweza kuukamilisha kwa sasa. Tafadhali jaribu tena baadaye.",
    },
}

# Each sentence spells out the card's whole name rather than sharing one fragment, because
# Swahili puts the possessive inside it: "Kadi yako ya M-Pesa Visa inayoishia 1111".
TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    Locale.ENGLISH: {
        TemplateKey.PROVISIONED: (
            "Card added to {wallet}",
            "Your M-Pesa Visa card{ending} has been added to {wallet}. "
            "You can now pay with it from your phone.",
        ),
        TemplateKey.STEP_UP_CODE: (
            "Your verification code",
            "{code} is your code to add your M-Pesa Visa card{ending} to {wallet}. "
            "It expires in {expires_minutes} minutes. Never share this code with anyone.",
        ),
        TemplateKey.DECLINED: (
            "Card not added",
            "Your M-Pesa Visa card{ending} could not be added to {wallet}. "
            "The request was declined.",
        ),
        TemplateKey.INELIGIBLE: (
            "Card not added",
            "Your M-Pesa Visa card{ending} cannot be added to {wallet}. "
            "Please contact M-Pesa customer care.",
        ),
        TemplateKey.FAILED: (
            "Card not added",
            "Something went wrong while adding your M-Pesa Visa card{ending} to {wallet}. "
            "Please try again later.",
        ),
        TemplateKey.EXPIRED: (
            "Code expired",
            "The code to add your M-Pesa Visa card{ending} to {wallet} has expired. "
            "Please start again.",
        ),
        TemplateKey.TOKEN_SUSPENDED: (
            "Card suspended in {wallet}",
            "Your M-Pesa Visa card{ending} has been suspended in {wallet}. "
            "It cannot be used there until it is resumed.",
        ),
        TemplateKey.TOKEN_RESUMED: (
            "Card active in {wallet}",
            "Your M-Pesa Visa card{ending} can be used in {wallet} again.",
        ),
        TemplateKey.TOKEN_DELETED: (
            "Card removed from {wallet}",
            "Your M-Pesa Visa card{ending} has been removed from {wallet}.",
        ),
        TemplateKey.TRANSFER_COMPLETED: (
            "Money sent",
            "You have sent {amount_text} to {payee_name}, Visa card ending {payee_last4}. "
            "{delivery_text} Fee: {fee_text}.",
        ),
        TemplateKey.TRANSFER_DECLINED: (
            "Transfer not completed",
            "Your transfer of {amount_text} to {payee_name}, Visa card ending {payee_last4}, "
            "was declined by the card network. {total_text} (the amount and the fee) has "
            "been returned to your M-Pesa balance.",
        ),
        TemplateKey.TRANSFER_REJECTED: (
            "Transfer not made",
            "Your transfer of {amount_text} to {payee_name}, Visa card ending {payee_last4}, "
            "was not made: {reason_text} No money was taken from your M-Pesa balance.",
        ),
    },
    Locale.SWAHILI: {
        TemplateKey.PROVISIONED: (
            "Kadi imeongezwa kwenye {wallet}",
            "Kadi yako ya M-Pesa Visa{ending} imeongezwa kwenye {wallet}. "
            "Sasa unaweza kulipa kwa simu yako.",
        ),
        TemplateKey.STEP_UP_CODE: (
            "Nambari yako ya uthibitisho",
            "{code} ni nambari yako ya kuthibitisha kuongeza kadi yako ya M-Pesa Visa{ending} "
            "kwenye {wallet}. Muda wake utaisha baada ya dakika {expires_minutes}. "
            "Usimpe mtu yeyote nambari hii.",
        ),
        TemplateKey.DECLINED: (
            "Kadi haikuongezwa",
            "Kadi yako ya M-Pesa Visa{ending} haikuweza kuongezwa kwenye {wallet}. "
            "Ombi limekataliwa.",
        ),
        TemplateKey.INELIGIBLE: (
            "Kadi haikuongezwa",
            "Kadi yako ya M-Pesa Visa{ending} haiwezi kuongezwa kwenye {wallet}. "
            "Tafadhali wasiliana na huduma kwa wateja ya M-Pesa.",
        ),
        TemplateKey.FAILED: (
            "Kadi haikuongezwa",
            "Hitilafu imetokea wakati wa kuongeza kadi yako ya M-Pesa Visa{ending} "
            "kwenye {wallet}. Tafadhali jaribu tena baadaye.",
        ),
        TemplateKey.EXPIRED: (
            "Muda wa nambari umekwisha",
            "Muda wa nambari ya kuthibitisha kuongeza kadi yako ya M-Pesa Visa{ending} "
            "kwenye {wallet} umekwisha. Tafadhali anza upya.",
        ),
        TemplateKey.TOKEN_SUSPENDED: (
            "Kadi imesimamishwa kwenye {wallet}",
            "Kadi yako ya M-Pesa Visa{ending} imesimamishwa kwa muda kwenye {wallet}. "
            "Haiwezi kutumika huko hadi itakaporejeshwa.",
        ),
        TemplateKey.TOKEN_RESUMED: (
            "Kadi inatumika tena kwenye {wallet}",
            "Kadi yako ya M-Pesa Visa{ending} inaweza kutumika tena kwenye {wallet}.",
        ),
        TemplateKey.TOKEN_DELETED: (
            "Kadi imeondolewa kwenye {wallet}",
            "Kadi yako ya M-Pesa Visa{ending} imeondolewa kwenye {wallet}.",
        ),
        TemplateKey.TRANSFER_COMPLETED: (
            "Pesa zimetumwa",
            "Umetuma {amount_text} kwa {payee_name}, kadi ya Visa inayoishia {payee_last4}. "
            "{delivery_text} Ada: {fee_text}.",
        ),
        TemplateKey.TRANSFER_DECLINED: (
            "Uhamisho haukukamilika",
            "Uhamisho wako wa {amount_text} kwa {payee_name}, kadi ya Visa inayoishia "
            "{payee_last4}, umekataliwa na mtandao wa kadi. {total_text} (kiasi pamoja na "
            "ada) zimerudishwa kwenye salio lako la M-Pesa.",
        ),
        TemplateKey.TRANSFER_REJECTED: (
            "Uhamisho haukufanyika",
            "Uhamisho wako wa {amount_text} kwa {payee_name}, kadi ya Visa inayoishia "
            "{payee_last4}, haukufanyika: {reason_text} Hakuna pesa iliyotolewa kwenye "
            "salio lako la M-Pesa.",
        ),
    },
}


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def render(template_key: str, locale: str, context: dict[str, Any]) -> Message:
    """The message for one event in one language; English when the language is unknown.

    Raises KeyError for an unknown template or a missing value (a bug, not a retry).
    """
    locale = locale if locale in TEMPLATES else Locale.ENGLISH
    title, body = TEMPLATES[locale][template_key]
    last4 = str(context.get("card_last4") or "")
    values = {
        **{name: str(value) for name, value in context.items()},
        "wallet": WALLET_NAMES.get(str(context.get("wallet") or ""), _ANY_WALLET[locale]),
        "ending": _ENDING[locale].format(last4=last4) if last4 else "",
        **_transfer_values(locale, context),
    }
    return Message(title=title.format_map(values), body=body.format_map(values))


def format_money(minor_units: int, currency: str = "KES") -> str:
    """`KES 1,530.00` from 153000 minor units (KES has two decimals), in both languages:
    M-Pesa's own messages write amounts the same way in English and Swahili."""
    minor_units = int(minor_units)
    sign = "-" if minor_units < 0 else ""
    major, minor = divmod(abs(minor_units), 100)
    return f"{currency} {sign}{major:,}.{minor:02d}"


def _transfer_values(locale: str, context: dict[str, Any]) -> dict[str, str]:
    """What a transfer's message says beyond its raw context; only the values whose
    inputs are present, so a message missing one still fails loudly (KeyError)."""
    currency = str(context.get("currency") or "KES")
    values = {f"{name}_text": format_money(context[name], currency)
              for name in ("amount", "fee", "total") if name in context}
    if "delivery" in context:
        values["delivery_text"] = _DELIVERY[locale][context["delivery"]]
    if "reason" in context:
        values["reason_text"] = _REASONS[locale][context["reason"]]
    return values
