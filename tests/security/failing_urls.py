"""A URL configuration whose one view fails with card data in hand, for the Sentry test."""

import logging

from django.urls import path

from tests.security.support import OTP, PAN


def fail_with_card_data(request):
    logging.getLogger("provisioning.issuer").info("card data received for %s", PAN)
    logging.getLogger("provisioning.issuer").error("issuer sent %s with code %s", PAN, OTP)
    raise ValueError(f"card {PAN} rejected; the customer's code is {OTP}")


urlpatterns = [path("fail", fail_with_card_data)]
