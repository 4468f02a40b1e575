from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0016_app_health')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AppCertificate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.OneToOneField('models.App', source_field='app_id', db_constraint=True, to_field='id', related_name='uploaded_certificate', on_delete=OnDelete.CASCADE)),
                ('chain', fields.TextField(unique=False)),
                ('key_ciphertext', fields.TextField(unique=False)),
                ('key_fingerprint', fields.CharField(max_length=32)),
                ('uploaded', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'app_certificates', 'app': 'models', 'pk_attr': 'id', 'table_description': "A certificate the user supplied for the app's domain, instead of ACME."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='App',
            name='certificate',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='App',
            name='tls',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='App',
            name='tls_hsts',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='App',
            name='tls_redirect',
            field=fields.BooleanField(default=True),
        ),
    ]
