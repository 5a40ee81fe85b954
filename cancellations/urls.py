from django.urls import path

from cancellations import views

app_name = "cancellations"

urlpatterns = [
    path("undo/<str:token>/", views.undo, name="undo"),
    path("<str:token>/", views.entry, name="entry"),
    path("<str:token>/reason/", views.choose_reason, name="reason"),
    path("<str:token>/leave/", views.leave, name="leave"),
    path("<str:token>/offers/", views.offers, name="offers"),
    path("<str:token>/decide/", views.decide, name="decide"),
    path("<str:token>/done/", views.done, name="done"),
]
