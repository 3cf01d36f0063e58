//! Coupon pools (README "Coupons"): create, upload and generate codes, claims. H4.
