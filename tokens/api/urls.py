from django.urls import path

from . import views

urlpatterns = [
    path("tokens", views.TokenListView.as_view(), name="token-list"),
    path("tokens/<str:token_id>", views.TokenDetailView.as_view(), name="token-detail"),
    path("tokens/<str:token_id>/suspend", views.TokenSuspendView.as_view(), name="token-suspend"),
    path("tokens/<str:token_id>/resume", views.TokenResumeView.as_view(), name="token-resume"),
    path("tokens/<str:token_id>/delete", views.TokenDeleteView.as_view(), name="token-delete"),
]
