"""URL map: the mailroom UI at the root, Django's admin under /admin/."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico where a page names no icon (the admin's, a download's).
    path("favicon.ico", RedirectView.as_view(url=static("mailroom/icon.svg"))),
    path("", include("mailroom.web.urls")),
]
