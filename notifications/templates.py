"""What each notification says, in English and Swahili.

One entry per event: a push title and a body (the body alone is the SMS). A message
names the wallet and the card's last four digits, never more of the card; the
one-time code appears only in `step_up_code`, which is sent by SMS only.
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
    }
    return Message(title=title.format_map(values), body=body.format_map(values))
