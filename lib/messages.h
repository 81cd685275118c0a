/* Stable journal MESSAGE_IDs, one per event a user would search for:
 *   journalctl MESSAGE_ID=<id>
 * Never change an id once released; add new ones at the end.
 * docs/journal.md lists them with their fields. */
#ifndef AGENTBOX_MESSAGES_H
#define AGENTBOX_MESSAGES_H

#define MSGID_MONITOR_STARTED    "db7d1e2ef6424557a384840c4f789e2f"
#define MSGID_IDLE_WARNING       "f8581b0691c74d929090d04b920e3474"
#define MSGID_IDLE_CANCELLED     "e3230db148d947d28ed84598d2dfb0aa"
#define MSGID_IDLE_DETECTED      "4ec1b1bd19a14d40a471443587b15bfd"
#define MSGID_SIGNAL_DEGRADED    "bc2891f278d0452295a1638f352ba580"
#define MSGID_KEEPALIVE          "ab1ffa8be4654649b0e83d901a07e728"
#define MSGID_ACTION             "56524f973ac349869ef4caa74aabf0d4"
#define MSGID_ACTION_FAILED      "d2e2cabf8554475988889bab43a4b4a8"
#define MSGID_BACKUP_DONE        "77f6faadb712487d9e8eb8337b4117f6"
#define MSGID_BACKUP_FAILED      "a466d4d28eff42e0941b30ff74a07f8c"
#define MSGID_BACKUP_SKIPPED     "a153f4e29519433d8a189fbf7d5142fc"
#define MSGID_RESTORE_DONE       "dad8d5815718433e8605fd5cfcbde743"
#define MSGID_RESTORE_FAILED     "5f9c81adde0b4e998cc15750b217588d"
#define MSGID_INSTANCE_DELETING  "8e3fa1c08b6848ab897cbf26c2a81b1d"
#define MSGID_INSTANCE_IDENTITY  "26c16e3940b8447296746b2c660dc981"
#define MSGID_INIT_READY         "9ab8bea0344940f38b1f2700e42fd411"
#define MSGID_INIT_FAILED        "154eb8ade9bc4bdda07806da5ac94599"
#define MSGID_DISPLAY_CLIENT     "219e1028a47442f88048309d2edff979"
#define MSGID_LEASE              "de47265be9d54b14928984b16dbc117d"
#define MSGID_CONFIG_ERROR       "00a3d7b74b6040d6afcac00064c4f7ae"
#define MSGID_INIT_PULL_PROGRESS "1a4c28eb846e4221ba1d9ebf3c67eac3"
#define MSGID_INTERRUPTION       "9406ea5e009a40da9ebd816b559398f0"

#endif
