from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User


class SignUpForm(UserCreationForm):
    # The only email Hue ever sends is a password reset link, asked for by the account's owner.
    email = forms.EmailField(required=False, help_text="Optional: lets you reset a forgotten password.")

    class Meta:
        model = User
        fields = ("username", "email")
