from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.health import healthz
from profiles.views import set_language

api_v1 = [
    path("", include("profiles.api.urls")),
    path("", include("community.api.urls")),
    path("", include("commerce.api.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (no inline script);
    # its page keeps one inline <style>, allowed on this page only.
    path(
        "api/docs/",
        csp_update({"style-src": [UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
    path("", include("profiles.urls")),
    path("", include("commerce.urls")),
    path("", include("community.urls")),
]

if settings.BENCH_ENDPOINTS:
    from bench.baseline import urlpatterns as bench_patterns

    urlpatterns = bench_patterns + urlpatterns

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# Unknown /api/ URLs and crashes answer in the API's one error shape; pages stay HTML.
handler400 = "config.api.errors.api_bad_request"
handler403 = "config.api.errors.api_permission_denied"
handler404 = "config.api.errors.api_page_not_found"
handler500 = "config.api.errors.api_server_error"
