from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_engine')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Version',
            name='sha256',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Version',
            name='size_bytes',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Version',
            name='uploaded_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
