"""The language switcher: Django's ``set_language`` that also remembers the choice on the
signed-in user, so the next visit, on any device, opens in that language."""

from django.utils.translation import check_for_language
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from profiles.services import set_user_locale


@require_POST
def set_language(request):
    response = django_set_language(request)
    code = request.POST.get("language", "")
    if request.user.is_authenticated and code and check_for_language(code):
        set_user_locale(user=request.user, locale=code)
    return response
