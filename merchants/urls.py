from django.urls import path

from . import views

app_name = "merchants"
urlpatterns = [
    path("connect/<str:state>/", views.authorization_connect, name="authorization_connect"),
    path("authorization/return/<str:state>/", views.authorization_return,
         name="authorization_return"),
    path("authorization/status/<str:token>/", views.authorization_status,
         name="authorization_status"),
]
