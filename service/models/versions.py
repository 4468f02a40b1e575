"""A deployable build of an app: a zip plus metadata."""

from tortoise import fields

from service.models.base import TimestampedModel


class Version(TimestampedModel):
    app = fields.ForeignKeyField("models.App", related_name="versions", on_delete=fields.CASCADE)
    version_number = fields.CharField(max_length=128)
    deployment_zip = fields.CharField(max_length=1024, null=True)
    notes = fields.TextField(default="")
    sha256 = fields.CharField(max_length=64, null=True)
    size_bytes = fields.BigIntField(null=True)
    uploaded_at = fields.DatetimeField(null=True)

    class Meta:
        table = "versions"
        ordering = ("id",)
        unique_together = (("app", "version_number"),)
