//! The messages the node sends, each as plain text and as HTML (the same words; the HTML escapes
//! everything it interpolates).

/// One message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// What a one-time code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeMail {
    /// Confirming the account's email address.
    ConfirmEmail,
    /// Changing the account's email address (sent to the current one).
    UpdateEmail,
    /// Resetting the password.
    ResetPassword,
    /// Deleting the account.
    DeleteAccount,
    /// Signing in when the account uses its email as a second factor.
    SignIn,
    /// Signing a PLC operation (moving the account's identity, for example to another PDS).
    PlcOperation,
}

impl CodeMail {
    fn words(self) -> (&'static str, &'static str) {
        match self {
            CodeMail::ConfirmEmail => (
                "Confirm your email address",
                "Use this code to confirm the email address of your account",
            ),
            CodeMail::UpdateEmail => (
                "Change your email address",
                "Use this code to change the email address of your account",
            ),
            CodeMail::ResetPassword => (
                "Reset your password",
                "Use this code to choose a new password for your account",
            ),
            CodeMail::DeleteAccount => (
                "Delete your account",
                "Use this code to delete your account. If you did not ask for this, change your \
                 password: someone who knows it asked",
            ),
            CodeMail::SignIn => (
                "Your sign-in code",
                "Use this code to finish signing in to your account",
            ),
            CodeMail::PlcOperation => (
                "Confirm a change of your identity",
                "Use this code to sign a PLC operation for your account (for example to move it to \
                 another server). If you did not ask for this, change your password",
            ),
        }
    }
}

/// The message carrying `code` for `purpose` to `to`, for the account `handle` of the server
/// `hostname`; the code is valid for `valid_minutes`.
pub fn code_message(
    purpose: CodeMail,
    to: &str,
    handle: &str,
    hostname: &str,
    code: &str,
    valid_minutes: i64,
) -> Message {
    let (subject, lead) = purpose.words();
    let text = format!(
        "{lead} @{handle} on {hostname}:\n\n    {code}\n\n\
         The code is valid for {valid_minutes} minutes and works once. If you did not ask for it, \
         you can ignore this message.\n"
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif\">\
         <p>{lead} <b>@{handle}</b> on {hostname}:</p>\
         <p style=\"font-size: 1.5em; font-family: monospace\">{code}</p>\
         <p>The code is valid for {valid_minutes} minutes and works once. If you did not ask for \
         it, you can ignore this message.</p></body></html>",
        lead = escape(lead),
        handle = escape(handle),
        hostname = escape(hostname),
        code = escape(code),
    );
    Message {
        to: to.to_owned(),
        subject: format!("{subject} ({hostname})"),
        text,
        html,
    }
}

/// A message the operator writes (`com.atproto.admin.sendEmail`): the text as given, and the same
/// text escaped in the HTML part.
pub fn operator_message(to: &str, subject: &str, content: &str) -> Message {
    let html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif; white-space: pre-wrap\">\
         {}</body></html>",
        escape(content)
    );
    Message {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: content.to_owned(),
        html,
    }
}

/// `text` with the characters HTML gives meaning to escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_message_carries_the_code_in_both_parts() {
        let m = code_message(
            CodeMail::ResetPassword,
            "a@example.com",
            "alice.test",
            "pds.example.com",
            "ABCDE-FGHIJ",
            15,
        );
        assert!(m.text.contains("ABCDE-FGHIJ"));
        assert!(m.html.contains("ABCDE-FGHIJ"));
        assert!(m.subject.starts_with("Reset your password"));
    }

    #[test]
    fn operator_text_cannot_inject_html() {
        let m = operator_message("a@example.com", "Hi", "<script>x</script> & \"q\"");
        assert!(!m.html.contains("<script>"));
        assert!(m
            .html
            .contains("&lt;script&gt;x&lt;/script&gt; &amp; &quot;q&quot;"));
        assert_eq!(m.text, "<script>x</script> & \"q\"");
    }
}
