//! Deterministic synthetic worlds: the same seed, knobs and `now` always give the same world, ids included.
//!
//! Uses its own SplitMix64 generator so that worlds do not change with the `rand` crate's versions.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use crate::{
    config::WorldKnobs,
    world::{
        Channel, EVERYONE_PERMISSIONS, Emoji, Guild, IdGen, Message, Reaction, Role, User, Webhook,
        World, kind, message_type,
    },
};

/// SplitMix64: tiny, fast, and stable forever.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) const fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) const fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0.0..1.0`.
    pub(crate) fn unit(&mut self) -> f64 {
        // 53 random bits → exactly representable.
        #[allow(clippy::cast_precision_loss)]
        let value = (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64;
        value
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let len = u64::try_from(items.len()).ok()?;
        items.get(usize::try_from(self.below(len)).ok()?)
    }

    /// Scales `average` by a factor in 0.3..1.7 (rounded).
    fn around(&mut self, average: u32) -> u32 {
        let factor = 0.3 + 1.4 * self.unit();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let scaled = (f64::from(average) * factor).round() as u32;
        scaled
    }

    /// A time uniformly in `[from, to)`.
    fn time_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
        let span = (to - from).num_milliseconds().max(1);
        from + Duration::milliseconds(i64::try_from(self.below(span.unsigned_abs())).unwrap_or(0))
    }
}

const UNICODE_EMOJI: [&str; 10] = ["👍", "❤️", "😂", "🎉", "🔥", "👀", "🙏🏽", "🇫🇷", "✅", "🦀"];
const CUSTOM_EMOJI: [&str; 3] = ["party_parrot", "kekw", "blob_dance"];

/// What happens at one moment of a text channel's history.
#[derive(Clone, Copy, Debug)]
enum Event {
    Member {
        author: u64,
        reply: bool,
    },
    Webhook(u64),
    OtherBot(u64),
    Command,
    Join(u64),
    /// A member message that starts a thread.
    ThreadFromMessage {
        author: u64,
    },
    /// A THREAD_CREATED system message for a thread created without a message.
    ThreadCreated {
        author: u64,
    },
}

struct GuildPeople {
    members: Vec<u64>,
    bots: Vec<u64>,
    webhooks: Vec<u64>,
}

impl GuildPeople {
    /// Activity is skewed: a few members write most messages.
    fn active_member(&self, rng: &mut SplitMix64) -> u64 {
        let u = rng.unit();
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = ((self.members.len() as f64) * u * u) as usize;
        self.members.get(index.min(self.members.len().saturating_sub(1))).copied().unwrap_or(0)
    }
}

struct Generator<'a> {
    rng: SplitMix64,
    knobs: &'a WorldKnobs,
    now: DateTime<Utc>,
    world: World,
}

/// Generates a world.
#[must_use]
pub fn generate(seed: u64, knobs: &WorldKnobs, now: DateTime<Utc>) -> World {
    let mut ids = IdGen::default();
    let bot_user_id = ids.next(now - Duration::days(400));
    let mut users = BTreeMap::new();
    users.insert(
        bot_user_id,
        User { id: bot_user_id, username: "engagement-bot".into(), bot: true },
    );
    let mut generator = Generator {
        rng: SplitMix64::new(seed),
        knobs,
        now,
        world: World {
            now,
            application_id: bot_user_id,
            bot_user_id,
            users,
            guilds: BTreeMap::new(),
            channels: BTreeMap::new(),
            ids,
        },
    };
    generator.run();
    // After everything the seed decides, and without the random generator: the same messages, channels,
    // members and overwrites as before the roles existed.
    generator.world.seed_roles();
    generator.world
}

impl Generator<'_> {
    fn id(&mut self, at: DateTime<Utc>) -> u64 {
        self.world.ids.next(at)
    }

    fn run(&mut self) {
        // A pool of humans shared between guilds (people are in several servers).
        let per_guild = self.knobs.members_per_guild.max(1);
        let pool_size = per_guild + (self.knobs.guilds.saturating_sub(1)) * per_guild / 2;
        let mut pool = Vec::new();
        for _ in 0..pool_size {
            let created = self
                .rng
                .time_between(self.now - Duration::days(6 * 365), self.now - Duration::days(400));
            let id = self.id(created);
            self.world
                .users
                .insert(id, User { id, username: format!("user-{}", pool.len() + 1), bot: false });
            pool.push(id);
        }
        pool.sort_unstable();
        for guild_index in 0..self.knobs.guilds {
            self.guild(guild_index, &pool);
        }
    }

    fn guild(&mut self, index: u32, pool: &[u64]) {
        let created = self.now - Duration::days(1_000 + i64::from(index) * 17);
        let guild_id = self.id(created);
        // Members: a window over the shared pool, so neighbouring guilds overlap.
        let per_guild = usize::try_from(self.knobs.members_per_guild.max(1)).unwrap_or(1);
        let offset = usize::try_from(index).unwrap_or(0) * per_guild / 2;
        let members: Vec<u64> = (0..per_guild)
            .filter_map(|i| pool.get((offset + i) % pool.len().max(1)).copied())
            .collect();
        let mut bots = Vec::new();
        for b in 0..self.knobs.bots_per_guild {
            let id = self.id(created + Duration::days(i64::from(b) + 1));
            self.world.users.insert(
                id,
                User { id, username: format!("helper-bot-{}-{}", index + 1, b + 1), bot: true },
            );
            bots.push(id);
        }
        let mut emojis: Vec<Emoji> = Vec::new();
        for name in CUSTOM_EMOJI {
            let id = self.id(created + Duration::days(3));
            emojis.push(Emoji { id: Some(id), name: name.to_owned() });
        }
        let mut webhooks = Vec::new();
        for w in 0..2 {
            let id = self.id(created + Duration::days(5));
            webhooks.push(Webhook {
                id,
                name: if w == 0 { "GitHub".into() } else { "RSS Feed".into() },
            });
        }
        let mut member_set: BTreeSet<u64> = members.iter().copied().collect();
        member_set.extend(bots.iter().copied());
        member_set.insert(self.world.bot_user_id);
        self.world.guilds.insert(
            guild_id,
            Guild {
                id: guild_id,
                name: format!("Synthetic Guild {}", index + 1),
                members: member_set,
                emojis: emojis.clone(),
                webhooks: webhooks.clone(),
                roles: vec![Role {
                    id: guild_id,
                    permissions: EVERYONE_PERMISSIONS,
                    position: 0,
                    name: "@everyone".into(),
                    managed: false,
                }],
                member_roles: BTreeMap::new(),
                // Chosen without the seed's random numbers: the rest of the world is unchanged.
                owner_id: members.first().copied(),
            },
        );
        let people =
            GuildPeople { members, bots, webhooks: webhooks.iter().map(|w| w.id).collect() };
        let mut emoji_pool: Vec<Emoji> = UNICODE_EMOJI.iter().map(|e| Emoji::unicode(e)).collect();
        emoji_pool.extend(emojis);

        let history_start = self.now - Duration::days(i64::from(self.knobs.days.max(1)));
        let channels_created = history_start - Duration::days(30);
        let mut position = 0;
        let mut next_channel = |generator: &mut Self,
                                channel_kind: u8,
                                name: String,
                                parent: Option<u64>,
                                readable: bool| {
            let created = generator
                .rng
                .time_between(channels_created - Duration::days(300), channels_created);
            let id = generator.id(created);
            generator.world.channels.insert(
                id,
                Channel {
                    id,
                    guild_id,
                    kind: channel_kind,
                    name,
                    parent_id: parent,
                    position,
                    readable,
                    last_message_id: None,
                    thread: None,
                    messages: BTreeMap::new(),
                    overwrites: Vec::new(),
                },
            );
            position += 1;
            id
        };
        let categories: Vec<u64> = (0..self.knobs.categories_per_guild)
            .map(|c| next_channel(self, kind::CATEGORY, format!("category-{}", c + 1), None, true))
            .collect();
        let category_for = |i: u32| -> Option<u64> {
            // Every fourth channel is outside any category.
            if categories.is_empty() || i % 4 == 3 {
                None
            } else {
                categories.get(usize::try_from(i).unwrap_or(0) % categories.len()).copied()
            }
        };
        let mut text_channels = Vec::new();
        for i in 0..self.knobs.text_channels_per_guild {
            let (channel_kind, name) = if i == 0 {
                (kind::TEXT, "general".to_owned())
            } else if i % 5 == 4 {
                (kind::ANNOUNCEMENT, format!("announcements-{i}"))
            } else {
                (kind::TEXT, format!("text-{i}"))
            };
            let id = next_channel(self, channel_kind, name, category_for(i), true);
            text_channels.push((i, id));
        }
        let mut forums = Vec::new();
        for i in 0..self.knobs.forum_channels_per_guild {
            forums.push(next_channel(
                self,
                kind::FORUM,
                format!("forum-{}", i + 1),
                category_for(i + 1),
                true,
            ));
        }
        for i in 0..self.knobs.voice_channels_per_guild {
            next_channel(self, kind::VOICE, format!("voice-{}", i + 1), category_for(i + 2), true);
        }
        let mut unreadable = Vec::new();
        for i in 0..self.knobs.unreadable_channels_per_guild {
            unreadable.push(next_channel(
                self,
                kind::TEXT,
                format!("staff-only-{}", i + 1),
                category_for(i),
                false,
            ));
        }

        let mut member_messages: Vec<(u64, u64)> = Vec::new();
        for (i, channel) in text_channels {
            // The third channel stays empty; every seventh went quiet in the second half of the history.
            let count = if i == 2 { 0 } else { self.rng.around(self.knobs.messages_per_channel) };
            let end = if i % 7 == 6 {
                history_start + (self.now - history_start) / 2
            } else {
                self.now - Duration::minutes(1)
            };
            let joins = i == 0;
            let threads = if count == 0 { 0 } else { self.knobs.threads_per_channel };
            self.text_history(
                channel,
                &people,
                count,
                history_start,
                end,
                joins,
                threads,
                &mut member_messages,
            );
            if i == 1 {
                self.private_thread(channel, &people);
            }
        }
        for channel in unreadable {
            let count = self.rng.around(self.knobs.messages_per_channel);
            self.text_history(
                channel,
                &people,
                count,
                history_start,
                self.now - Duration::minutes(5),
                false,
                0,
                &mut member_messages,
            );
        }
        for forum in forums {
            for _ in 0..self.knobs.posts_per_forum {
                let created = self.rng.time_between(history_start, self.now - Duration::hours(1));
                let author = people.active_member(&mut self.rng);
                let post = self.id(created);
                self.new_thread(post, forum, kind::PUBLIC_THREAD, author, format!("post-{post}"));
                self.insert(Message {
                    id: post,
                    channel_id: post,
                    author_id: author,
                    webhook_id: None,
                    kind: message_type::DEFAULT,
                    content: "What do you think?".into(),
                    reference: None,
                    thread_id: None,
                    reactions: Vec::new(),
                    embeds: Vec::new(),
                    attachments: Vec::new(),
                });
                member_messages.push((post, post));
                self.thread_messages(post, created, &people, &mut member_messages);
                if let Some(f) = self.world.channels.get_mut(&forum) {
                    f.last_message_id = Some(f.last_message_id.map_or(post, |l| l.max(post)));
                }
            }
        }
        self.reactions(guild_id, &people, &emoji_pool, &member_messages);
    }

    #[allow(clippy::too_many_arguments)]
    fn text_history(
        &mut self,
        channel: u64,
        people: &GuildPeople,
        count: u32,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        joins: bool,
        threads: u32,
        member_messages: &mut Vec<(u64, u64)>,
    ) {
        let mut events: Vec<(DateTime<Utc>, Event)> = Vec::new();
        for _ in 0..count {
            let at = self.rng.time_between(start, end);
            let r = self.rng.unit();
            let event = if r < 0.03 {
                match self.rng.pick(&people.webhooks) {
                    Some(&w) => Event::Webhook(w),
                    None => {
                        Event::Member { author: people.active_member(&mut self.rng), reply: false }
                    }
                }
            } else if r < 0.06 {
                match self.rng.pick(&people.bots) {
                    Some(&b) => Event::OtherBot(b),
                    None => Event::Command,
                }
            } else if r < 0.08 {
                Event::Command
            } else {
                Event::Member { author: people.active_member(&mut self.rng), reply: r < 0.22 }
            };
            events.push((at, event));
        }
        if joins {
            for &member in &people.members {
                if self.rng.chance(0.3) {
                    events.push((self.rng.time_between(start, end), Event::Join(member)));
                }
            }
        }
        events.sort_by_key(|(at, _)| *at);
        // Turn some member messages into thread starts: half from the message, half with a system message.
        let candidates: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, (_, e))| matches!(e, Event::Member { reply: false, .. }))
            .map(|(i, _)| i)
            .collect();
        for t in 0..threads {
            let Some(&index) = self.rng.pick(&candidates) else { break };
            if let Some((_, event)) = events.get_mut(index)
                && let Event::Member { author, .. } = *event
            {
                *event = if t % 2 == 0 {
                    Event::ThreadFromMessage { author }
                } else {
                    Event::ThreadCreated { author }
                };
            }
        }
        let mut written: Vec<u64> = Vec::new();
        for (at, event) in events {
            let (author, webhook, kind_, reply) = match event {
                Event::Member { author, reply } => (
                    author,
                    None,
                    if reply && !written.is_empty() {
                        message_type::REPLY
                    } else {
                        message_type::DEFAULT
                    },
                    reply,
                ),
                Event::Webhook(w) => (w, Some(w), message_type::DEFAULT, false),
                Event::OtherBot(b) => (b, None, message_type::DEFAULT, false),
                Event::Command => {
                    (self.world.bot_user_id, None, message_type::CHAT_INPUT_COMMAND, false)
                }
                Event::Join(user) => (user, None, message_type::USER_JOIN, false),
                Event::ThreadFromMessage { author } => (author, None, message_type::DEFAULT, false),
                Event::ThreadCreated { author } => {
                    let thread = self.id(at);
                    let system = self.id(at);
                    self.new_thread(
                        thread,
                        channel,
                        kind::PUBLIC_THREAD,
                        author,
                        format!("thread-{thread}"),
                    );
                    self.insert(Message {
                        id: system,
                        channel_id: channel,
                        author_id: author,
                        webhook_id: None,
                        kind: message_type::THREAD_CREATED,
                        content: format!("thread-{thread}"),
                        reference: Some((thread, thread)),
                        thread_id: None,
                        reactions: Vec::new(),
                        embeds: Vec::new(),
                        attachments: Vec::new(),
                    });
                    written.push(system);
                    self.thread_messages(thread, at, people, member_messages);
                    continue;
                }
            };
            let id = self.id(at);
            let reference = if kind_ == message_type::REPLY {
                let back = usize::try_from(self.rng.below(5)).unwrap_or(0) + 1;
                written.get(written.len().saturating_sub(back)).map(|&m| (channel, m))
            } else {
                None
            };
            let _ = reply;
            let content = match kind_ {
                message_type::USER_JOIN | message_type::CHAT_INPUT_COMMAND => String::new(),
                _ => format!("synthetic message {}", written.len() + 1),
            };
            self.insert(Message {
                id,
                channel_id: channel,
                author_id: author,
                webhook_id: webhook,
                kind: kind_,
                content,
                reference,
                thread_id: None,
                reactions: Vec::new(),
                embeds: Vec::new(),
                attachments: Vec::new(),
            });
            written.push(id);
            member_messages.push((channel, id));
            if let Event::ThreadFromMessage { author } = event {
                self.new_thread(id, channel, kind::PUBLIC_THREAD, author, format!("thread-{id}"));
                if let Some(m) =
                    self.world.channels.get_mut(&channel).and_then(|c| c.messages.get_mut(&id))
                {
                    m.thread_id = Some(id);
                }
                let starter = self.id(at);
                self.insert(Message {
                    id: starter,
                    channel_id: id,
                    author_id: author,
                    webhook_id: None,
                    kind: message_type::THREAD_STARTER_MESSAGE,
                    content: String::new(),
                    reference: Some((channel, id)),
                    thread_id: None,
                    reactions: Vec::new(),
                    embeds: Vec::new(),
                    attachments: Vec::new(),
                });
                self.thread_messages(id, at, people, member_messages);
            }
        }
    }

    fn new_thread(&mut self, id: u64, parent: u64, thread_kind: u8, owner: u64, name: String) {
        let guild_id = self.world.channels.get(&parent).map_or(0, |c| c.guild_id);
        let created = engagement_domain::snowflake::created_at(id);
        self.world.channels.insert(
            id,
            Channel::new_thread(id, guild_id, thread_kind, name, parent, owner, created),
        );
    }

    /// Messages of a thread created at `created`, then its archive state.
    fn thread_messages(
        &mut self,
        thread: u64,
        created: DateTime<Utc>,
        people: &GuildPeople,
        member_messages: &mut Vec<(u64, u64)>,
    ) {
        let count = self.rng.around(self.knobs.messages_per_thread);
        let span =
            Duration::minutes(i64::try_from(30 + self.rng.below(60 * 24 * 10)).unwrap_or(60));
        let end = (created + span).min(self.now - Duration::minutes(1));
        let mut times: Vec<DateTime<Utc>> = (0..count)
            .map(|_| self.rng.time_between(created, end.max(created + Duration::seconds(1))))
            .collect();
        times.sort_unstable();
        let mut written: Vec<u64> = self
            .world
            .channels
            .get(&thread)
            .map(|c| c.messages.keys().copied().collect())
            .unwrap_or_default();
        for at in times {
            let r = self.rng.unit();
            let (author, kind_) = if r < 0.05 {
                (
                    self.rng.pick(&people.bots).copied().unwrap_or(self.world.bot_user_id),
                    message_type::DEFAULT,
                )
            } else if r < 0.2 && !written.is_empty() {
                (people.active_member(&mut self.rng), message_type::REPLY)
            } else {
                (people.active_member(&mut self.rng), message_type::DEFAULT)
            };
            let id = self.id(at);
            let reference = (kind_ == message_type::REPLY)
                .then(|| written.last().map(|&m| (thread, m)))
                .flatten();
            self.insert(Message {
                id,
                channel_id: thread,
                author_id: author,
                webhook_id: None,
                kind: kind_,
                content: format!("reply {}", written.len() + 1),
                reference,
                thread_id: None,
                reactions: Vec::new(),
                embeds: Vec::new(),
                attachments: Vec::new(),
            });
            written.push(id);
            member_messages.push((thread, id));
        }
        // Archive threads idle for longer than their auto-archive duration.
        let durations = [60_u32, 1_440, 4_320, 10_080];
        let duration = durations
            .get(usize::try_from(self.rng.below(4)).unwrap_or(0))
            .copied()
            .unwrap_or(4_320);
        let last = self
            .world
            .channels
            .get(&thread)
            .and_then(|c| c.last_message_id)
            .map_or(created, engagement_domain::snowflake::created_at);
        let archive_at = last + Duration::minutes(i64::from(duration));
        if let Some(state) = self.world.channels.get_mut(&thread).and_then(|c| c.thread.as_mut()) {
            state.auto_archive_duration = duration;
            if archive_at < self.now {
                state.archived = true;
                state.archive_timestamp = archive_at;
            }
        }
    }

    fn private_thread(&mut self, parent: u64, people: &GuildPeople) {
        let created = self.now - Duration::hours(20);
        let id = self.id(created);
        let owner = people.active_member(&mut self.rng);
        self.new_thread(id, parent, kind::PRIVATE_THREAD, owner, format!("private-{id}"));
        if let Some(state) = self.world.channels.get_mut(&id).and_then(|c| c.thread.as_mut()) {
            state.auto_archive_duration = 10_080;
        }
        let mut sink = Vec::new();
        let count = self.rng.around(self.knobs.messages_per_thread).max(1);
        let mut times: Vec<DateTime<Utc>> = (0..count)
            .map(|_| self.rng.time_between(created, self.now - Duration::minutes(1)))
            .collect();
        times.sort_unstable();
        for at in times {
            let mid = self.id(at);
            let author = people.active_member(&mut self.rng);
            self.insert(Message {
                id: mid,
                channel_id: id,
                author_id: author,
                webhook_id: None,
                kind: message_type::DEFAULT,
                content: "psst".into(),
                reference: None,
                thread_id: None,
                reactions: Vec::new(),
                embeds: Vec::new(),
                attachments: Vec::new(),
            });
            sink.push((id, mid));
        }
    }

    fn insert(&mut self, message: Message) {
        // Channels exist by construction; a missing one would only drop the message.
        let _ = self.world.insert_raw(message);
    }

    fn reactions(
        &mut self,
        guild: u64,
        people: &GuildPeople,
        emoji_pool: &[Emoji],
        messages: &[(u64, u64)],
    ) {
        let share = self.knobs.reaction_share.clamp(0.0, 1.0);
        let mut everyone: Vec<u64> = people.members.clone();
        everyone.extend(people.bots.iter().copied());
        for &(channel, message) in messages {
            if !self.rng.chance(share) {
                continue;
            }
            let author = self
                .world
                .channels
                .get(&channel)
                .and_then(|c| c.messages.get(&message))
                .map(|m| m.author_id);
            let emoji_count = 1 + self.rng.below(3);
            for _ in 0..emoji_count {
                let Some(emoji) = self.rng.pick(emoji_pool).cloned() else { continue };
                let mut normal = BTreeSet::new();
                for _ in 0..=self.rng.below(6) {
                    if let Some(&user) = self.rng.pick(&people.members) {
                        normal.insert(user);
                    }
                }
                if self.rng.chance(0.1)
                    && let Some(&bot) = self.rng.pick(&people.bots)
                {
                    normal.insert(bot);
                }
                if self.rng.chance(0.1)
                    && let Some(author) = author.filter(|a| self.world.users.contains_key(a))
                {
                    normal.insert(author);
                }
                let mut burst = BTreeSet::new();
                if self.rng.chance(0.15) {
                    // Sometimes the same user reacts both ways.
                    if self.rng.chance(0.5)
                        && let Some(&user) = normal.iter().next()
                    {
                        burst.insert(user);
                    }
                    if let Some(&user) = self.rng.pick(&everyone) {
                        burst.insert(user);
                    }
                }
                self.merge_reaction(channel, message, emoji, normal, burst);
            }
        }
        // A few messages with more than one page of reactors.
        let text_messages: Vec<(u64, u64)> = messages
            .iter()
            .copied()
            .filter(|(c, _)| {
                self.world
                    .channels
                    .get(c)
                    .is_some_and(|c| !kind::is_thread(c.kind) && c.guild_id == guild && c.readable)
            })
            .collect();
        if people.members.len() > 100 {
            for _ in 0..self.knobs.popular_messages_per_guild {
                let Some(&(channel, message)) = self.rng.pick(&text_messages) else { break };
                let extra = usize::try_from(self.rng.below(60)).unwrap_or(0);
                let reactors: BTreeSet<u64> =
                    people.members.iter().copied().take(101 + extra).collect();
                self.merge_reaction(
                    channel,
                    message,
                    Emoji::unicode("🎉"),
                    reactors,
                    BTreeSet::new(),
                );
            }
        }
    }

    fn merge_reaction(
        &mut self,
        channel: u64,
        message: u64,
        emoji: Emoji,
        normal: BTreeSet<u64>,
        burst: BTreeSet<u64>,
    ) {
        let Some(msg) =
            self.world.channels.get_mut(&channel).and_then(|c| c.messages.get_mut(&message))
        else {
            return;
        };
        match msg.reactions.iter_mut().find(|r| r.emoji == emoji) {
            Some(existing) => {
                existing.normal.extend(normal);
                existing.burst.extend(burst);
            }
            None if !normal.is_empty() || !burst.is_empty() => {
                msg.reactions.push(Reaction { emoji, normal, burst })
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::{WorldSize, default_now};
    use engagement_domain::snowflake;

    #[test]
    fn same_seed_same_world_other_seed_other_world() {
        let knobs = WorldSize::Small.knobs();
        let a = generate(3, &knobs, default_now());
        let b = generate(3, &knobs, default_now());
        let c = generate(4, &knobs, default_now());
        assert_eq!(a, b);
        assert_ne!(a.readable_message_ids(), c.readable_message_ids());
    }

    #[test]
    fn ids_are_snowflakes_consistent_with_time_and_increasing_per_channel() {
        let world = generate(11, &WorldSize::Medium.knobs(), default_now());
        let mut all = BTreeSet::new();
        for channel in world.channels.values() {
            let channel_time = snowflake::created_at(channel.id);
            let mut previous = 0;
            for (&id, message) in &channel.messages {
                assert!(id > previous);
                previous = id;
                assert!(message.timestamp() < world.now, "message after now");
                assert!(
                    message.timestamp() >= channel_time || kind::is_thread(channel.kind),
                    "message before its channel"
                );
                assert!(all.insert((channel.id, id)));
            }
            if channel.kind == kind::FORUM {
                let newest_post = world
                    .channels
                    .values()
                    .filter(|t| t.parent_id == Some(channel.id))
                    .map(|t| t.id)
                    .max();
                assert_eq!(channel.last_message_id, newest_post);
            } else {
                assert_eq!(channel.last_message_id.as_ref(), channel.messages.keys().next_back());
            }
        }
    }

    #[test]
    fn every_guild_has_roles_the_bot_can_and_cannot_manage() {
        use crate::world::{permission, seeded_role};
        let world = generate(5, &WorldSize::Medium.knobs(), default_now());
        assert_eq!(world.guilds.len(), 2);
        for guild in world.guilds.values() {
            assert_eq!(guild.roles[0].id, guild.id, "@everyone first");
            assert_eq!(guild.roles[0].permissions, EVERYONE_PERMISSIONS);
            let role = |name| guild.role_named(name).unwrap();
            let bot = role(seeded_role::BOT);
            assert_eq!(guild.roles_of(world.bot_user_id), BTreeSet::from([bot.id]));
            assert_eq!(guild.member_roles.len(), 1, "only the bot holds a role");
            assert_ne!(guild.permissions_of(world.bot_user_id) & permission::MANAGE_ROLES, 0);
            assert_eq!(guild.highest_position_of(world.bot_user_id), bot.position);
            assert!(role(seeded_role::MODERATORS).position > bot.position);
            for name in [seeded_role::ACTIVE, seeded_role::REGULARS, seeded_role::SERVER_BOOSTER] {
                assert!((1..bot.position).contains(&role(name).position), "{name}");
                assert_eq!(role(name).permissions, 0, "{name}");
            }
            assert!(role(seeded_role::SERVER_BOOSTER).managed);
            let positions: BTreeSet<i64> = guild.roles.iter().map(|r| r.position).collect();
            assert_eq!(positions.len(), guild.roles.len(), "no two roles share a position");
            let owner = guild.owner_id.unwrap();
            assert!(
                guild.members.contains(&owner) && !world.is_bot(owner),
                "a human member owns it"
            );
            assert_eq!(guild.permissions_of(owner), u64::MAX, "owning is every permission");
        }
        // No channel overwrite names a seeded role: who views what is as before the roles existed.
        let seeded: BTreeSet<u64> =
            world.guilds.values().flat_map(|g| g.roles.iter().skip(1).map(|r| r.id)).collect();
        assert!(
            world.channels.values().flat_map(|c| &c.overwrites).all(|o| !seeded.contains(&o.id))
        );
        let mut again = world.clone();
        again.seed_roles();
        assert_eq!(again, world, "seeding twice changes nothing");
    }

    #[test]
    fn the_world_has_every_feature_clients_trip_on() {
        let world = generate(5, &WorldSize::Medium.knobs(), default_now());
        let messages: Vec<&Message> =
            world.channels.values().flat_map(|c| c.messages.values()).collect();
        for kind_ in [
            message_type::DEFAULT,
            message_type::USER_JOIN,
            message_type::THREAD_CREATED,
            message_type::REPLY,
            message_type::CHAT_INPUT_COMMAND,
            message_type::THREAD_STARTER_MESSAGE,
        ] {
            assert!(messages.iter().any(|m| m.kind == kind_), "no message of type {kind_}");
        }
        assert!(messages.iter().any(|m| m.webhook_id.is_some()));
        assert!(
            messages.iter().any(|m| world.is_bot(m.author_id) && m.kind == message_type::DEFAULT)
        );
        let reactions: Vec<&Reaction> = messages.iter().flat_map(|m| m.reactions.iter()).collect();
        assert!(reactions.iter().any(|r| r.emoji.id.is_some()));
        assert!(reactions.iter().any(|r| !r.burst.is_empty()));
        assert!(reactions.iter().any(|r| r.normal.intersection(&r.burst).next().is_some()));
        assert!(reactions.iter().any(|r| r.normal.len() > 100));
        let threads: Vec<&Channel> =
            world.channels.values().filter(|c| kind::is_thread(c.kind)).collect();
        assert!(threads.iter().any(|t| t.thread.as_ref().is_some_and(|s| s.archived)));
        assert!(threads.iter().any(|t| t.thread.as_ref().is_some_and(|s| !s.archived)));
        assert!(threads.iter().any(|t| {
            t.parent_id.and_then(|p| world.channels.get(&p)).is_some_and(|p| p.kind == kind::FORUM)
        }));
        assert!(world.channels.values().any(|c| !c.readable && !c.messages.is_empty()));
        let days: BTreeSet<_> = messages.iter().map(|m| m.timestamp().date_naive()).collect();
        assert!(days.len() > 30, "messages spread over {} days", days.len());
    }
}
