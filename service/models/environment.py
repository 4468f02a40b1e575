"""An app's environment: plain variables, and secrets stored only encrypted."""

from tortoise import fields

from service.models.base import TimestampedModel


class AppVariable(TimestampedModel):
    app = fields.ForeignKeyField("models.App", related_name="variables", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=128)
    secret = fields.BooleanField(default=False)
    value = fields.TextField(null=True)
    """A plain variable's value; always null for a secret."""
    ciphertext = fields.TextField(null=True)
    """A secret's value, encrypted under the key file (service/storage/secrets.py)."""
    fingerprint = fields.CharField(max_length=32, null=True)
    """A keyed hash of a secret's value: tells values apart without revealing them."""

    class Meta:
        table = "app_variables"
        unique_together = (("app", "name"),)
        ordering = ("name",)
