//! Who gets a new conversation: pure decisions on plain values.

use teaminbox_store::inbox::Candidate;

/// Round robin: among the eligible candidates (available ones, unless the
/// channel takes any availability), the one whose last assignment from this
/// channel is oldest; never assigned counts as oldest; ties by user id.
pub fn round_robin(candidates: &[Candidate], any_availability: bool) -> Option<&Candidate> {
    candidates
        .iter()
        .filter(|c| any_availability || c.available)
        .min_by_key(|c| (c.last_assigned_at.is_some(), c.last_assigned_at, c.user_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn candidate(user_id: i64, available: bool, last: Option<u32>) -> Candidate {
        Candidate {
            user_id,
            email: format!("u{user_id}@example.com"),
            first_name: format!("U{user_id}"),
            available,
            last_assigned_at: last.map(|day| {
                NaiveDate::from_ymd_opt(2026, 11, day)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
            }),
        }
    }

    #[test]
    fn the_oldest_last_assignment_wins_and_never_is_oldest() {
        let all = [
            candidate(1, true, Some(20)),
            candidate(2, true, Some(10)),
            candidate(3, true, None),
        ];
        assert_eq!(round_robin(&all, false).unwrap().user_id, 3);
        assert_eq!(round_robin(&all[..2], false).unwrap().user_id, 2);
    }

    #[test]
    fn ties_go_to_the_lower_id() {
        let all = [candidate(7, true, None), candidate(4, true, None)];
        assert_eq!(round_robin(&all, false).unwrap().user_id, 4);
    }

    #[test]
    fn away_users_are_skipped_unless_the_channel_says_any() {
        let all = [candidate(1, false, None), candidate(2, true, Some(25))];
        assert_eq!(round_robin(&all, false).unwrap().user_id, 2);
        assert_eq!(round_robin(&all, true).unwrap().user_id, 1);
        assert!(round_robin(&all[..1], false).is_none());
    }
}
