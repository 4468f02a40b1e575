from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0014_app_environment')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='DeployHook',
            name='secret',
            field=fields.TextField(unique=False),
        ),
        ops.AlterField(
            model_name='Webhook',
            name='secret',
            field=fields.TextField(unique=False),
        ),
    ]
