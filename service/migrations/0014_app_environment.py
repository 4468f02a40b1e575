from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0013_web_sessions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AppVariable',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('app', fields.ForeignKeyField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='variables', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=128)),
                ('secret', fields.BooleanField(default=False)),
                ('value', fields.TextField(null=True, unique=False)),
                ('ciphertext', fields.TextField(null=True, unique=False)),
                ('fingerprint', fields.CharField(null=True, max_length=32)),
            ],
            options={'table': 'app_variables', 'app': 'models', 'unique_together': (('app', 'name'),), 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
    ]
