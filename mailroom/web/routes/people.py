"""People and access: users, roles, who may read which mailbox."""

from django.urls import URLPattern, path

from mailroom.web.views import people

urlpatterns: list[URLPattern] = [
    path("people/", people.people_list, name="people"),
    path("people/new/", people.person_create, name="person-create"),
    path("people/<int:user_id>/", people.person_edit, name="person-edit"),
    path("people/<int:user_id>/deactivate/", people.person_deactivate, name="person-deactivate"),
    path("people/<int:user_id>/reactivate/", people.person_reactivate, name="person-reactivate"),
    path(
        "people/<int:user_id>/reset-password/",
        people.person_reset_password,
        name="person-reset-password",
    ),
    path("people/roles/", people.role_list, name="role-list"),
    path("people/roles/<int:role_id>/", people.role_edit, name="role-edit"),
    path("people/roles/<int:role_id>/delete/", people.role_delete, name="role-delete"),
]
