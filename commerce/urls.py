from django.urls import path

from commerce import views

app_name = "commerce"

urlpatterns = [
    path("wallet/", views.wallet, name="wallet"),
    path("wallet/topup/", views.topup, name="topup"),
    path("wallet/tip/", views.tip, name="tip"),
    path("wallet/payout/", views.payout, name="payout"),
    path("wallet/statement/", views.statement, name="statement"),
    path("wallet/statement.csv", views.statement_csv, name="statement_csv"),
    path("wallet/rooms/<int:room_id>/", views.room_access, name="room_access"),
    path("wallet/rooms/<int:room_id>/price/", views.room_price, name="room_price"),
    path(
        "wallet/rooms/<int:room_id>/cancel-renewal/",
        views.cancel_renewal,
        name="cancel_renewal",
    ),
    path(
        "wallet/rooms/<int:room_id>/resume-renewal/",
        views.resume_renewal,
        name="resume_renewal",
    ),
    path("wallet/refund/<int:transfer_id>/", views.refund, name="refund"),
    path("fees/", views.fee_schedule, name="fees"),
    path("commerce/webhooks/<slug:provider>/", views.webhook, name="webhook"),
]
