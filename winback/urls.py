from django.urls import path

from winback import views

app_name = "winback"

urlpatterns = [
    path("welcome-back/<str:token>/", views.comeback, name="comeback"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
