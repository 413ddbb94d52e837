"""TOTP two-factor login (django-otp): start, confirm, turn off, QR code."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from qrcode import make as qr_make
from qrcode.image.svg import SvgPathImage


def is_enabled(user: AbstractBaseUser) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def pending_device(user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).first()


@transaction.atomic
def device_start(*, user: AbstractBaseUser) -> TOTPDevice:
    """A fresh unconfirmed device; any earlier unconfirmed one is discarded."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


@transaction.atomic
def device_confirm(*, user: AbstractBaseUser, token: str) -> bool:
    device = pending_device(user)
    if device is None or not device.verify_token(token):
        return False
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True


@transaction.atomic
def disable(*, user: AbstractBaseUser, token: str) -> bool:
    devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    if not any(device.verify_token(token) for device in devices):
        return False
    TOTPDevice.objects.filter(user=user).delete()
    return True


def qr_svg(device: TOTPDevice) -> str:
    image = qr_make(device.config_url, image_factory=SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")
