from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language, get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language as django_set_language

from community.reactions.selectors import with_reaction_summaries
from config.currencies import currency_for_request, user_currency
from config.errors import DomainError, NotFoundError, RateLimitedError
from profiles import selectors, services
from profiles.export import build_export
from profiles.forms import (
    DeleteAccountForm,
    EmailForm,
    PasswordChangeForm,
    PasswordResetRequestForm,
    PreferencesForm,
    ProfileForm,
    SetPasswordForm,
    SignUpForm,
    StatusPostForm,
    add_validation_errors,
)
from profiles.middleware import TIMEZONE_COOKIE
from profiles.models import Profile

PROFILE_POSTS_PER_PAGE = 20
# The email form shares the account page with the deletion form: ids of its own.
EMAIL_FORM_IDS = "id_email_form_%s"
FEED_ITEMS_PER_PAGE = 20
PEOPLE_PER_PAGE = 30


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    local_currency = currency_for_request(request)
    form = SignUpForm(request.POST or None, initial={"currency": local_currency})
    if request.method == "POST" and form.is_valid():
        # The browser's zone (hidden field, static/js/locale.js); without script, the zone
        # the same script left in a cookie; else UTC. Both are checked against zoneinfo.
        cookie_zone = request.COOKIES.get(TIMEZONE_COOKIE, "")
        try:
            fallback = services.validate_timezone(name=cookie_zone) if cookie_zone else "UTC"
        except ValidationError:
            fallback = "UTC"
        user = form.save(
            locale=get_language() or "",
            fallback_timezone=fallback,
            fallback_currency=local_currency,
        )
        if user is not None:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(_safe_next(request) or "home")
    return render(request, "registration/signup.html", {"form": form, "next": _safe_next(request)})


def _safe_next(request) -> str:
    """Where to go after signing up (the page that asked for an account), when it is
    a path on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


class LoginView(auth_views.LoginView):
    # Failed log-ins are counted and locked out by django-axes (profiles/login_policy.py).
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    """Django's view and templates. The page answers the same whether or not an account
    uses the address; past the email limits it says so (429), for any address."""

    form_class = PasswordResetRequestForm
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except RateLimitedError as exc:
            form.add_error(None, exc.message)
            response = self.form_invalid(form)
            response.status_code = 429
            response["Retry-After"] = str(exc.retry_after or 60)
            return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = SetPasswordForm
    success_url = reverse_lazy("password_reset_complete")


class PasswordChangeView(auth_views.PasswordChangeView):
    """The new password goes through ``services.set_password``, which ends every other
    session and API token. This session carries on."""

    form_class = PasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        user = services.set_password(
            user=self.request.user, password=form.cleaned_data["new_password1"]
        )
        update_session_auth_hash(self.request, user)
        messages.success(
            self.request, _("Password changed. Your other sessions and devices are logged out.")
        )
        return redirect(self.get_success_url())


@login_required
@require_POST
def log_out_everywhere(request):
    services.log_out_everywhere(user=request.user)
    logout(request)
    messages.success(request, _("You are logged out on every device."))
    return redirect("login")


def _visible_profile_or_404(request, handle: str) -> Profile:
    try:
        return selectors.profile_for_handle(viewer=request.user, handle=handle)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc


@login_required
def profile_page(request, handle: str):
    profile = _visible_profile_or_404(request, handle)
    posts = selectors.status_posts_by(profile.user_id)
    before = request.GET.get("before", "")
    if before.isdigit():
        posts = posts.filter(pk__lt=int(before))
    posts = list(posts[: PROFILE_POSTS_PER_PAGE + 1])
    older = posts[PROFILE_POSTS_PER_PAGE - 1].pk if len(posts) > PROFILE_POSTS_PER_PAGE else None
    is_me = profile.user_id == request.user.pk
    posts = with_reaction_summaries(
        "status_post", posts[:PROFILE_POSTS_PER_PAGE], viewer=request.user
    )
    return render(
        request,
        "profiles/profile.html",
        {
            "profile": profile,
            "posts": posts,
            "older": older,
            "is_me": is_me,
            "counts": selectors.follow_counts(profile.user_id),
            "post_form": StatusPostForm() if is_me else None,
        },
    )


def _relationship_action(action):
    @login_required
    @require_POST
    def view(request, handle: str):
        profile = _visible_profile_or_404(request, handle)
        try:
            action(request.user, profile.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        # From people search and suggestions: back to that list.
        return redirect(_safe_next(request) or reverse("profile", args=[profile.handle]))

    return view


follow = _relationship_action(lambda me, them: services.follow_user(follower=me, followee=them))
unfollow = _relationship_action(lambda me, them: services.unfollow_user(follower=me, followee=them))
_block = _relationship_action(lambda me, them: services.block_user(blocker=me, blocked=them))
unblock = _relationship_action(lambda me, them: services.unblock_user(blocker=me, blocked=them))


@login_required
def block(request, handle: str):
    """GET: what blocking does, and a button to confirm (works without script); POST
    blocks."""
    if request.method == "POST":
        return _block(request, handle)
    profile = _visible_profile_or_404(request, handle)
    if profile.user_id == request.user.pk or profile.viewer_blocks:
        return redirect("profile", handle=profile.handle)
    return render(request, "profiles/block_confirm.html", {"profile": profile})


@login_required
def people(request):
    """People search (``?q=``); without a query, the people I might follow."""
    query = request.GET.get("q", "").strip()
    results = list(selectors.search_people(viewer=request.user, query=query)[:PEOPLE_PER_PAGE])
    suggestions = [] if query else selectors.follow_suggestions(viewer=request.user)
    return render(
        request,
        "profiles/people.html",
        {"query": query, "results": results, "suggestions": suggestions},
    )


@login_required
@require_POST
def create_post(request):
    form = StatusPostForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.create_status_post(
                author=request.user,
                body=form.cleaned_data["body"],
                image=form.cleaned_data.get("image"),
            )
            messages.success(request, _("Posted."))
        except DomainError as exc:
            messages.error(request, exc.message)
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("profile", handle=request.user.profile.handle)


@login_required
@require_POST
def delete_post(request, post_id: int):
    try:
        services.delete_status_post(actor=request.user, post_id=post_id)
        messages.success(request, _("Post deleted."))
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("profile", handle=request.user.profile.handle)


@login_required
def friends(request):
    try:
        page = selectors.friends_feed_page(
            viewer=request.user,
            cursor=request.GET.get("cursor") or None,
            limit=FEED_ITEMS_PER_PAGE,
        )
    except DomainError:
        return redirect("friends")
    with_reaction_summaries(
        "status_post",
        [item.post for item in page.items if item.kind == "status_post"],
        viewer=request.user,
    )
    return render(
        request,
        "profiles/friends.html",
        {
            "items": page.items,
            "next_cursor": page.next_cursor,
            "friend_count": len(selectors.friend_ids(request.user)),
            "suggestions": selectors.follow_suggestions(viewer=request.user, limit=5),
        },
    )


@login_required
def edit_profile(request):
    profile = Profile.objects.prefetch_related("interests").get(user=request.user)
    if request.method == "POST":
        form = ProfileForm(request.POST, request.FILES, profile=profile)
        if form.is_valid() and form.save(user=request.user):
            messages.success(request, _("Profile saved."))
            return redirect("edit_profile")
    else:
        form = ProfileForm(initial=ProfileForm.initial_for(profile), profile=profile)
    return render(request, "profiles/settings_profile.html", {"form": form, "profile": profile})


@login_required
def edit_preferences(request):
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid() and form.save(user=request.user):
            messages.success(request, _("Preferences saved."))
            response = redirect("edit_preferences")
            # The language cookie outranks the account's choice: keep them in step.
            if form.cleaned_data["locale"]:
                response.set_cookie(
                    settings.LANGUAGE_COOKIE_NAME,
                    form.cleaned_data["locale"],
                    samesite="Lax",
                    secure=settings.SESSION_COOKIE_SECURE,
                )
            else:
                response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
            return response
    else:
        form = PreferencesForm(
            initial={
                "locale": request.user.locale,
                "timezone": request.user.timezone,
                "currency": user_currency(request.user),
                "discoverable": request.user.profile.discoverable,
            }
        )
    return render(request, "profiles/settings_preferences.html", {"form": form})


@login_required
def account(request):
    form = DeleteAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.delete_account(
                user=request.user,
                password=form.cleaned_data["password"],
                messages=form.cleaned_data["messages"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except DomainError as exc:
            form.add_error("password" if exc.code == "wrong_password" else None, exc.message)
        else:
            logout(request)
            messages.success(request, _("Your account has been deleted."))
            return redirect("home")
    return render(
        request,
        "profiles/settings_account.html",
        {
            "form": form,
            "email_form": EmailForm(initial={"email": request.user.email}, auto_id=EMAIL_FORM_IDS),
            "blocked": selectors.blocked_profiles(request.user),
        },
    )


@login_required
def change_email(request):
    form = EmailForm(
        request.POST or None, user=request.user, request=request, auto_id=EMAIL_FORM_IDS
    )
    if request.method == "POST" and form.is_valid():
        try:
            user = services.change_email(
                user=request.user,
                email=form.cleaned_data["email"],
                ip=services.client_ip(request),
            )
        except ValidationError as exc:
            add_validation_errors(form, exc)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            if user.email and not user.email_verified:
                messages.success(
                    request,
                    _("Email saved. We sent a link to %(email)s: open it to verify the address.")
                    % {"email": user.email},
                )
            else:
                messages.success(request, _("Email saved."))
            return redirect("account_settings")
    return render(request, "profiles/settings_email.html", {"form": form}, status=200)


@login_required
@require_POST
def send_verification(request):
    try:
        services.send_email_verification(user=request.user, ip=services.client_ip(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("We sent a link to %(email)s: open it to verify the address.")
            % {"email": request.user.email},
        )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("account_settings")
    return redirect(target)


@require_GET
def verify_email(request, token: str):
    """The link in the verification email (it works signed in or not)."""
    try:
        user = services.verify_email(token=token)
    except DomainError as exc:
        return render(request, "profiles/email_verified.html", {"error": exc.message}, status=400)
    return render(request, "profiles/email_verified.html", {"verified_email": user.email})


@login_required
def export(request):
    response = JsonResponse(
        build_export(request.user), encoder=DjangoJSONEncoder, json_dumps_params={"indent": 2}
    )
    response["Content-Disposition"] = 'attachment; filename="moim-export.json"'
    return response


def my_profile(request):
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    return redirect("profile", handle=request.user.profile.handle)


# The language switcher: Django's ``set_language`` that also remembers the choice on the
# signed-in user, so the next visit, on any device, opens in that language.
@require_POST
def set_language(request):
    response = django_set_language(request)
    code = request.POST.get("language", "")
    if request.user.is_authenticated and code and check_for_language(code):
        services.set_user_locale(user=request.user, locale=code)
    return response
