# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The tuned numbers of the plugin, each with why it has its value.

Not the operator's options (``options``: timeouts, poll intervals, what
to do on timeout) and not facts of Nova's API (microversions, statuses:
``nova_gateway``, ``phases``): these are the choices made in the code
about how often to look and how long to trust what was seen. Seconds
unless said otherwise. Modules read them as ``tuning.NAME`` when they
use them.
"""

# -- the action's hooks (action) ------------------------------------------

# execute trusts what pre_condition just checked for this long: Watcher
# calls it right after, and a second read would tell nothing new.
PRE_CONDITION_REUSE = 5.0
# post_condition runs right after execute (in a busy applier, seconds
# after): a look at the server younger than this (the one that ended
# execute, as fresh as a poll of poll_interval_max' default) is the
# placement to check.
POST_CONDITION_REUSE = 5.0

# -- starting a move (moves) ----------------------------------------------

# After a move request whose outcome is unknown, the least time to look
# for its effect (api_retry_timeout if longer) before concluding that it
# never reached Nova.
RESOLVE_WINDOW = 5.0
# Backoff of the retries of a refused (409) move and of the looks for a
# move whose answer was lost: Nova's tasks last seconds, not minutes.
START_RETRY_FLOOR = 0.5
START_RETRY_CAP = 5.0
# A confirm or revert Nova shows no sign of having received (its request
# was lost) is sent again after this long: Nova acts on one in a second.
CONFIRM_RESEND = 3.0
# An abort Nova shows no sign of having received (its request was lost)
# is sent again after this long while the migration still runs: Nova may
# take seconds to act on one, so sooner would resend needlessly.
ABORT_RESEND = 5.0

# -- deciding (phases) ----------------------------------------------------

# How long a migration record and its server may disagree before the
# disagreement is taken as Nova's final word: Nova updates them in
# separate steps, so a look can catch one updated and not the other.
RECORDS_AGREE_GRACE = 10.0

# -- waiting (waiting) ----------------------------------------------------

# Growth of the interval between polls while nothing changes: from the
# floor to the cap in a few polls, without overshooting a short phase.
POLL_BACKOFF_FACTOR = 1.6

# -- looking (tracking) ---------------------------------------------------

# While a migration is in progress a look must prove the server's state
# (a roll call of the shared feed, else a read of it alone) at least every
# this many poll_interval_max (10 s by default), to notice it deleted or
# ERROR even when a list left its cell out.
SERVER_CHECK_POLLS = 2
# The first look at a live migration comes this many poll_interval_min
# after the request (at most FIRST_LOOK), or later when the process
# learned that its Nova takes longer to begin the copy (START_LAG_*):
# before, Nova is still preparing it.
FIRST_LOOK_FLOORS = 5
# A routine look (nothing predicted is due) is content with a shared
# request of another action's begun this fraction of poll_interval_max
# ago: many actions then cost one request per this interval, not each one.
ROUTINE_AGE_FRACTION = 0.5

# -- the shared feeds (change_feed) ---------------------------------------

# changes-since compares with timestamps written by Nova's own hosts; this
# much slack covers their clock skew against ours (NTP keeps it far lower).
CLOCK_SLACK = 2.0
# Least time between two requests of one feed when its creator gives
# none: five listings a second at most, whatever the number of actions.
FEED_MIN_GAP = 0.2

# -- predicting the end of a live migration (end_prediction) --------------

# Nova's conductor, scheduler and the destination's preparation take
# about this long before a copy can have begun: the first look waits.
FIRST_LOOK = 1.0
# The longest the learned start lag grows (see end_prediction.StartLag):
# a Nova slower to begin the copy is met by the looks' backoff.
START_LAG_MAX = 5.0
# A first look that found the copy not begun after t seconds moves the
# start lag to this many times t: the next first look comes past it.
START_LAG_MARGIN = 1.25
# A first look that found the copy begun shrinks the start lag by this
# factor: slowly, so that one fast start does not undo what was learned.
START_LAG_SHRINK = 0.95
# The finish lag (end_prediction.FinishLag) before anything is learned:
# Nova's post-copy steps usually take a few tenths of a second.
FINISH_LAG_INITIAL = 0.3
# Its bounds: a lag shorter than this is timing noise, a landing later
# than this after the copy is Nova slow, which the ending looks handle.
FINISH_LAG_LOW = 0.05
FINISH_LAG_HIGH = 1.0
# A look at the end that came too early lengthens the lag this much
# (factor, then seconds): quickly, since an early look costs a request.
FINISH_LAG_GROWTH = 1.2
FINISH_LAG_STEP = 0.02
# A look at the end that found the server landed shortens the lag by this
# factor: more slowly than it grows, so that it settles just past Nova's.
FINISH_LAG_SHRINK = 0.9
# Between the two figures that give the rate: at least this much of
# Nova's time, so that timing noise is small against it.
MIN_SPAN = 1.0
# Nova's libvirt driver saves a copy's figures as it begins, then every
# [libvirt] live_migration_monitor_interval (5 s by default): the
# spacing taken until a landed copy showed its own
# (end_prediction.CopyPace), with which figures are read again only when
# newer ones can be there.
FIGURES_CADENCE_INITIAL = 5.0
# Its monitor saves after a job query, in a loop of half-second sleeps:
# a save comes up to this much past its due time.
FIGURES_SAVE_SLACK = 0.5
# A read when Nova's next figure was due that found none is tried again
# from this delay on, backing off: at least MIN_SPAN later.
FIGURES_RETRY = MIN_SPAN + 0.5
# Nova's clock times its figures; seconds-only timestamps (MySQL) make a
# prediction this uncertain, so it is approached instead of trusted.
COARSE_MARGIN = 0.1
# Look at least every this many times poll_interval_max while the copy
# runs, however far its predicted end: a failure must not go unseen.
MAX_CAPS = 6
# Once the predicted end is due, looks come at most this far apart and
# are urgent (each sees Nova as it is then: shared requests make them
# cheap) for this long; a landing later than that is Nova slow to finish.
ENDING_INTERVAL = 0.5
ENDING_URGENT = 5.0
# A landing late past ENDING_URGENT is still looked for at least every
# ENDING_LATE_CAP, each look accepting a shared listing at most
# ENDING_LATE_AGE old: it is still seen within about a second, and many
# late actions share about two requests a second. A busy Nova lands
# servers tens of seconds late (the benchmark's 50 at once); later than
# ENDING_LATE_WATCH is Nova in trouble, followed by routine looks that
# back off.
ENDING_LATE_CAP = 1.0
ENDING_LATE_AGE = 0.5
ENDING_LATE_WATCH = 60.0
# Once the end is due, the server's looks decide: Nova lands the server
# within about a second of the copy's end. Only a landing later than
# this suggests the copy is slower than predicted, and the figures are
# read again to say until when.
FIGURES_AGAIN_AFTER = 2.0

# A live copy's remaining memory must fall this fraction below its lowest
# yet to count as progress (convergence): figures that wobble by a few
# pages from pass to pass are a copy going nowhere, and a copy gaining
# less than this per stall window would take hours.
STALL_MIN_FALL = 0.01

# -- the Nova API (nova_gateway) ------------------------------------------

# A negotiated microversion is trusted this long: Nova is upgraded rarely,
# and negotiating again after an hour follows an upgrade at a request's
# cost.
VERSION_TTL = 3600.0
# Retry backoff of Nova API calls (tenacity's random exponential): the
# first retries come within tenths of a second (a blip), the later ones
# at most this far apart, so a retry budget of a minute has a dozen tries.
RETRY_MULTIPLIER = 0.2
RETRY_LONGEST = 5.0

# -- the journal of moves in flight (journal, recovery) -------------------

# sqlite waits this long for another process's write to the journal
# (each lasts milliseconds): long enough for a host busy with many
# appliers, short enough that a wedged file fails the action clearly.
JOURNAL_BUSY_TIMEOUT = 10.0

# -- the command-line tool (cli, console) ---------------------------------

# How often the progress display is redrawn (and the run checked): often
# enough to look live, rarely enough to cost nothing.
REFRESH_INTERVAL = 1.0
# In the plain log, a line about a running action at least this often:
# a log that says nothing for longer looks hung.
LOG_PROGRESS_INTERVAL = 10.0
# Seconds without news from Nova after which a line says it waits for it:
# past several polls, so a poll's normal delay does not trigger it.
STALE_AFTER = 3.0
