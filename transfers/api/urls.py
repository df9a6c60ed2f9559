from django.urls import path

from . import views

urlpatterns = [
    path("payees", views.PayeeListCreateView.as_view(), name="payee-list"),
    path("payees/<str:payee_id>", views.PayeeDetailView.as_view(), name="payee-detail"),
    path("transfer-quotes", views.QuoteCreateView.as_view(), name="transfer-quote-create"),
    path("transfers", views.TransferListCreateView.as_view(), name="transfer-list"),
    path("transfers/<str:transfer_id>", views.TransferDetailView.as_view(),
         name="transfer-detail"),
    path("transfers/<str:transfer_id>/cancel", views.TransferCancelView.as_view(),
         name="transfer-cancel"),
]
