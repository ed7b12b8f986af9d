# The answer record of the autoresponder's loop safety (docs/autoresponse.md).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('mailroom', '0009_rule_editor'),
    ]

    operations = [
        migrations.CreateModel(
            name='AnswerRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('address', models.CharField(max_length=320)),
                ('answered_at', models.DateTimeField()),
                ('claims', models.PositiveIntegerField(default=1)),
                ('bounced_at', models.DateTimeField(blank=True, null=True)),
                ('mailbox', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='answers', to='mailroom.mailbox')),
                ('message', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='mailroom.message')),
                ('rule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='answers', to='mailroom.autoresponserule')),
            ],
            options={
                'ordering': ('-answered_at',),
                'indexes': [models.Index(fields=['mailbox', 'answered_at'], name='answer_mailbox_time_idx')],
                'constraints': [models.UniqueConstraint(fields=('address', 'rule'), name='answer_one_per_rule_sender')],
            },
        ),
    ]
