from django.urls import path

from commerce.api import views

urlpatterns = [
    path("wallet/", views.WalletView.as_view(), name="wallet"),
    path("wallet/transactions/", views.StatementView.as_view(), name="wallet-transactions"),
    path("wallet/topups/", views.TopUpView.as_view(), name="wallet-topups"),
    path("tips/", views.TipView.as_view(), name="tips"),
    path("tips/quote/", views.TipQuoteView.as_view(), name="tips-quote"),
    path("payouts/", views.PayoutView.as_view(), name="payouts"),
    path("refunds/", views.RefundView.as_view(), name="refunds"),
    path(
        "wallet/rooms/<int:room_id>/",
        views.RoomPurchaseStateView.as_view(),
        name="wallet-room",
    ),
    path(
        "wallet/rooms/<int:room_id>/purchase/",
        views.RoomPurchaseView.as_view(),
        name="wallet-room-purchase",
    ),
    path(
        "wallet/rooms/<int:room_id>/cancel-renewal/",
        views.CancelRenewalView.as_view(),
        name="wallet-room-cancel-renewal",
    ),
    path(
        "wallet/rooms/<int:room_id>/resume-renewal/",
        views.ResumeRenewalView.as_view(),
        name="wallet-room-resume-renewal",
    ),
]
