//! encrypt-override
