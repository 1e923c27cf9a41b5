-- The schema classmod made before its migrations (SQLModel.metadata.create_all at commit 86aab57),
-- as create_all emitted it on sqlite. tests/bot/test_schema.py builds a previous release's database from it.

CREATE TABLE classmod_groups (
	id INTEGER NOT NULL,
	platform VARCHAR NOT NULL,
	chat_id VARCHAR NOT NULL,
	title VARCHAR NOT NULL,
	is_authorised BOOLEAN NOT NULL,
	authorised_by VARCHAR,
	authorised_at DATETIME,
	added_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_classmod_groups_chat UNIQUE (platform, chat_id)
);

CREATE TABLE classmod_people (
	id INTEGER NOT NULL,
	platform VARCHAR NOT NULL,
	user_id VARCHAR NOT NULL,
	display_name VARCHAR NOT NULL,
	role VARCHAR NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_classmod_people_user UNIQUE (platform, user_id)
);

CREATE TABLE classmod_cases (
	id INTEGER NOT NULL,
	platform VARCHAR NOT NULL,
	chat_id VARCHAR NOT NULL,
	message_id VARCHAR NOT NULL,
	revision INTEGER NOT NULL,
	author_id VARCHAR NOT NULL,
	author_name VARCHAR NOT NULL,
	author_role VARCHAR NOT NULL,
	text TEXT,
	is_edit BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	scores JSON NOT NULL,
	flagged JSON NOT NULL,
	clauses JSON NOT NULL,
	evidence JSON NOT NULL,
	actions JSON NOT NULL,
	top_action VARCHAR NOT NULL,
	route VARCHAR,
	reminder TEXT,
	explanation TEXT NOT NULL,
	scorer VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	closed_by VARCHAR,
	closed_at DATETIME,
	purged_at DATETIME,
	PRIMARY KEY (id),
	CONSTRAINT uq_classmod_cases_message UNIQUE (platform, chat_id, message_id, revision)
);

CREATE INDEX ix_classmod_cases_created_at ON classmod_cases (created_at);

CREATE INDEX ix_classmod_cases_status ON classmod_cases (status);

CREATE TABLE classmod_seen_messages (
	id INTEGER NOT NULL,
	platform VARCHAR NOT NULL,
	chat_id VARCHAR NOT NULL,
	message_id VARCHAR NOT NULL,
	revision INTEGER NOT NULL,
	handled_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_classmod_seen_message UNIQUE (platform, chat_id, message_id, revision)
);

CREATE INDEX ix_classmod_seen_messages_handled_at ON classmod_seen_messages (handled_at);

CREATE TABLE classmod_read_marks (
	id INTEGER NOT NULL,
	platform VARCHAR NOT NULL,
	chat_id VARCHAR NOT NULL,
	message_id VARCHAR NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_classmod_read_marks_chat UNIQUE (platform, chat_id)
);

CREATE TABLE classmod_consents (
	id INTEGER NOT NULL,
	platform VARCHAR NOT NULL,
	user_id VARCHAR NOT NULL,
	kind VARCHAR NOT NULL,
	recorded_by VARCHAR NOT NULL,
	at DATETIME NOT NULL,
	revoked_at DATETIME,
	PRIMARY KEY (id)
);

CREATE INDEX ix_classmod_consents_user_id ON classmod_consents (user_id);

CREATE TABLE classmod_leases (
	name VARCHAR NOT NULL,
	holder VARCHAR NOT NULL,
	expires_at DATETIME NOT NULL,
	PRIMARY KEY (name)
);

CREATE TABLE classmod_inbound_updates (
	id INTEGER NOT NULL,
	platform VARCHAR NOT NULL,
	update_id BIGINT NOT NULL,
	payload TEXT NOT NULL,
	received_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_classmod_inbound_update UNIQUE (platform, update_id)
);

CREATE TABLE classmod_case_actions (
	id INTEGER NOT NULL,
	case_id INTEGER NOT NULL,
	actor VARCHAR NOT NULL,
	action VARCHAR NOT NULL,
	outcome VARCHAR NOT NULL,
	detail TEXT,
	at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(case_id) REFERENCES classmod_cases (id)
);

CREATE INDEX ix_classmod_case_actions_case_id ON classmod_case_actions (case_id);

CREATE TABLE classmod_strikes (
	id INTEGER NOT NULL,
	platform VARCHAR NOT NULL,
	author_id VARCHAR NOT NULL,
	category VARCHAR NOT NULL,
	clause_id VARCHAR NOT NULL,
	case_id INTEGER,
	at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(case_id) REFERENCES classmod_cases (id)
);

CREATE INDEX ix_classmod_strikes_author_id ON classmod_strikes (author_id);

CREATE TABLE classmod_appeals (
	id INTEGER NOT NULL,
	case_id INTEGER NOT NULL,
	author_id VARCHAR NOT NULL,
	reason TEXT,
	at DATETIME NOT NULL,
	status VARCHAR NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(case_id) REFERENCES classmod_cases (id)
);

CREATE INDEX ix_classmod_appeals_case_id ON classmod_appeals (case_id);
