//! The diesel schema, shared by SQLite and PostgreSQL. Only `store` uses it.

diesel::table! {
    channels (id) {
        id -> BigInt,
        name -> Text,
        company -> Text,
        forwarding_address -> Text,
        status -> Text,
        enabled -> Bool,
        created_at -> Timestamp,
        assign_mode -> Text,
        assign_any_availability -> Bool,
        tickets_enabled -> Bool,
        ticket_properties -> Text,
        verification_code -> Nullable<Text>,
        verification_link -> Nullable<Text>,
        verification_requested_by -> Nullable<Text>,
        verification_received_at -> Nullable<Timestamp>,
        from_name_mode -> Text,
        from_address -> Nullable<Text>,
        signature_html -> Nullable<Text>,
        finished_at -> Nullable<Timestamp>,
        company_from_name -> Nullable<Text>,
    }
}

diesel::table! {
    inbound_messages (id) {
        id -> BigInt,
        queue_id -> Nullable<Text>,
        received_at -> Timestamp,
        client_address -> Nullable<Text>,
        client_name -> Text,
        helo -> Text,
        mail_from -> Text,
        message_size -> BigInt,
        raw_message -> Binary,
        state -> Text,
        claimed_by -> Nullable<Text>,
        claimed_at -> Nullable<Timestamp>,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        spf -> Nullable<Text>,
        dkim -> Nullable<Text>,
        arc -> Nullable<Text>,
        dmarc -> Nullable<Text>,
        spam -> Bool,
        header_from -> Nullable<Text>,
        arc_trusted -> Bool,
        spam_action -> Nullable<Text>,
        spam_score -> Nullable<Double>,
    }
}

diesel::table! {
    inbound_recipients (inbound_message_id, address) {
        inbound_message_id -> BigInt,
        address -> Text,
        channel_id -> Nullable<BigInt>,
        user_id -> Nullable<BigInt>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    hosted_local_parts (local_part) {
        local_part -> Text,
        user_id -> Nullable<BigInt>,
    }
}

diesel::joinable!(inbound_recipients -> inbound_messages (inbound_message_id));
diesel::joinable!(inbound_recipients -> channels (channel_id));
diesel::allow_tables_to_appear_in_same_query!(
    channels,
    inbound_messages,
    inbound_recipients,
    rejections,
    filters,
    users,
    teams,
    team_members,
    channel_assignees,
    channel_sources,
    contacts,
    conversations,
    messages,
    attachments,
    tickets,
    channel_assignment_state,
    outbound_messages,
    sending_domains,
    hosted_local_parts,
    web_sessions,
    sign_in_links,
);

diesel::table! {
    rejections (id) {
        id -> BigInt,
        rejected_at -> Timestamp,
        queue_id -> Nullable<Text>,
        client_address -> Nullable<Text>,
        client_name -> Text,
        helo -> Text,
        mail_from -> Text,
        header_from -> Nullable<Text>,
        recipients -> Text,
        smtp_code -> Text,
        enhanced_code -> Text,
        reason -> Text,
    }
}

diesel::table! {
    filters (id) {
        id -> BigInt,
        list -> Text,
        kind -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        first_name -> Text,
        last_name -> Text,
        username -> Text,
        available -> Bool,
        created_at -> Timestamp,
        role -> Text,
        password_hash -> Nullable<Text>,
    }
}

diesel::table! {
    web_sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    sign_in_links (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    teams (id) {
        id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    team_members (team_id, user_id) {
        team_id -> BigInt,
        user_id -> BigInt,
    }
}

diesel::table! {
    channel_assignees (id) {
        id -> BigInt,
        channel_id -> BigInt,
        user_id -> Nullable<BigInt>,
        team_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    channel_sources (id) {
        id -> BigInt,
        channel_id -> BigInt,
        address -> Text,
        origin -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    contacts (id) {
        id -> BigInt,
        address -> Text,
        name -> Nullable<Text>,
        owner_user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    conversations (id) {
        id -> BigInt,
        channel_id -> BigInt,
        contact_id -> BigInt,
        subject -> Text,
        status -> Text,
        kind -> Text,
        assignee_user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        last_message_at -> Timestamp,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        conversation_id -> BigInt,
        channel_id -> BigInt,
        inbound_message_id -> Nullable<BigInt>,
        direction -> Text,
        dedupe_key -> Text,
        message_id_header -> Nullable<Text>,
        from_address -> Text,
        from_name -> Nullable<Text>,
        forwarded_by -> Nullable<Text>,
        subject -> Text,
        text_body -> Text,
        html_body -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        automated -> Bool,
        decisions -> Text,
        created_at -> Timestamp,
        user_id -> Nullable<BigInt>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        message_id -> BigInt,
        filename -> Text,
        content_type -> Text,
        size -> BigInt,
        content_id -> Nullable<Text>,
        inline -> Bool,
        content -> Binary,
    }
}

diesel::table! {
    tickets (id) {
        id -> BigInt,
        conversation_id -> BigInt,
        name -> Text,
        pipeline -> Nullable<Text>,
        stage -> Nullable<Text>,
        priority -> Nullable<Text>,
        properties -> Text,
        owner_user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    channel_assignment_state (channel_id, user_id) {
        channel_id -> BigInt,
        user_id -> BigInt,
        last_assigned_at -> Timestamp,
    }
}

diesel::table! {
    outbound_messages (id) {
        id -> BigInt,
        conversation_id -> Nullable<BigInt>,
        kind -> Text,
        to_address -> Text,
        subject -> Text,
        body -> Text,
        state -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        from_address -> Nullable<Text>,
        message_id_header -> Nullable<Text>,
        raw_message -> Nullable<Binary>,
        next_attempt_at -> Nullable<Timestamp>,
        claimed_at -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
    }
}

diesel::joinable!(messages -> conversations (conversation_id));
diesel::joinable!(conversations -> contacts (contact_id));
diesel::joinable!(conversations -> channels (channel_id));
diesel::joinable!(tickets -> conversations (conversation_id));
diesel::joinable!(attachments -> messages (message_id));
diesel::joinable!(web_sessions -> users (user_id));
diesel::joinable!(sign_in_links -> users (user_id));

diesel::table! {
    sending_domains (id) {
        id -> BigInt,
        domain -> Text,
        selector -> Text,
        private_key_pem -> Text,
        dns_txt -> Text,
        verified_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    spam_lessons (id) {
        id -> BigInt,
        inbound_message_id -> BigInt,
        class -> Text,
        raw_message -> Binary,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}
