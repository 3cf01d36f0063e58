//! Campaign reports (README "Campaign reports"): per variant and for the holdout, the
//! deliveries by state and reason, the attributed conversions and revenue, the lift over the
//! holdout with its interval, and conversions per day. Aggregates in SQL, maths in
//! domain::report. H2.
