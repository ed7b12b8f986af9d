"""URL map: the mailroom UI at the root, Django's admin under /admin/ (for superusers only:
a 404 to anyone else, see :mod:`mailroom.admin`)."""

from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from mailroom.admin import site as admin_site

urlpatterns = [
    path("admin/", admin_site.urls),
    # Browsers ask for /favicon.ico where a page names no icon (the admin's, a download's).
    path("favicon.ico", RedirectView.as_view(url=static("mailroom/icon.svg"))),
    path("", include("mailroom.web.urls")),
]
