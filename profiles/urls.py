from django.contrib.auth import views as auth_views
from django.urls import path

from profiles import views

urlpatterns = [
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "accounts/password/reset/",
        views.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("accounts/email/verify/<str:token>/", views.verify_email, name="verify_email"),
    path("me/", views.my_profile, name="my_profile"),
    path("u/<str:handle>/", views.profile_page, name="profile"),
    path("u/<str:handle>/follow/", views.follow, name="follow"),
    path("u/<str:handle>/unfollow/", views.unfollow, name="unfollow"),
    path("u/<str:handle>/block/", views.block, name="block"),
    path("u/<str:handle>/unblock/", views.unblock, name="unblock"),
    path("posts/new/", views.create_post, name="create_post"),
    path("posts/<int:post_id>/delete/", views.delete_post, name="delete_post"),
    path("friends/", views.friends, name="friends"),
    path("people/", views.people, name="people"),
    path("settings/profile/", views.edit_profile, name="edit_profile"),
    path("settings/preferences/", views.edit_preferences, name="edit_preferences"),
    path("settings/account/", views.account, name="account_settings"),
    path("settings/account/export/", views.export, name="account_export"),
    path("settings/account/email/", views.change_email, name="change_email"),
    path(
        "settings/account/email/verify/",
        views.send_verification,
        name="send_verification",
    ),
    path(
        "settings/account/log-out-everywhere/",
        views.log_out_everywhere,
        name="log_out_everywhere",
    ),
]
