from django.urls import path

from profiles.api import views

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="auth-register"),
    path("auth/token/", views.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/refresh/", views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path(
        "auth/logout-everywhere/",
        views.LogoutEverywhereView.as_view(),
        name="auth-logout-everywhere",
    ),
    path(
        "auth/password-reset/",
        views.PasswordResetRequestView.as_view(),
        name="auth-password-reset",
    ),
    path(
        "auth/password-reset/confirm/",
        views.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/email/verify/", views.EmailVerifyView.as_view(), name="auth-email-verify"),
    path("me/email/", views.MeEmailView.as_view(), name="me-email"),
    path(
        "me/email/verification/",
        views.MeEmailVerificationView.as_view(),
        name="me-email-verification",
    ),
    path("me/password/", views.PasswordChangeView.as_view(), name="me-password"),
    path("realtime/ticket/", views.SocketTicketView.as_view(), name="realtime-ticket"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/export/", views.MeExportView.as_view(), name="me-export"),
    path("people/", views.PeopleSearchView.as_view(), name="people-search"),
    path("people/suggestions/", views.PeopleSuggestionsView.as_view(), name="people-suggestions"),
    path("users/<str:handle>/", views.UserDetailView.as_view(), name="user-detail"),
    path("users/<str:handle>/posts/", views.UserPostsView.as_view(), name="user-posts"),
    path("users/<str:handle>/follow/", views.FollowView.as_view(), name="user-follow"),
    path("users/<str:handle>/block/", views.BlockView.as_view(), name="user-block"),
    path("posts/<int:post_id>/", views.PostDetailView.as_view(), name="post-detail"),
    path("feed/friends/", views.FriendsFeedView.as_view(), name="feed-friends"),
]
