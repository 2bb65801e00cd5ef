//! The pages' words in French and English. One table, one row per text: a missing
//! translation is a compile-time gap in this file, not a blank on a page.

use std::collections::BTreeMap;

const TEXTS: &[(&str, &str, &str)] = &[
    ("skip", "Aller au contenu", "Skip to content"),
    ("home", "Accueil", "Home"),
    ("invoices", "Factures et abonnement", "Invoices and subscription"),
    ("garden", "Mon jardin", "My garden"),
    ("messages", "Messages", "Messages"),
    ("profile", "Mon profil", "My profile"),
    ("farm", "Ma ferme", "My farm"),
    ("admin", "Administration", "Administration"),
    ("dashboard", "Tableau de bord", "Dashboard"),
    ("sign_in", "Se connecter", "Sign in"),
    ("sign_out", "Se déconnecter", "Sign out"),
    ("sign_in_intro", "Choisissez un utilisateur de démonstration.", "Choose a demo user."),
    ("sign_in_as", "Se connecter en tant que", "Sign in as"),
    ("hello", "Bonjour", "Hello"),
    ("attention", "Ce qui demande votre attention", "What needs your attention"),
    ("nothing_pending", "Rien en attente : tout est en ordre.", "Nothing pending: all is in order."),
    ("unpaid_invoices", "Factures à régler", "Invoices to pay"),
    ("card_expiring", "Carte bientôt expirée", "Card expiring soon"),
    ("renewal_due", "Renouvellement à venir", "Renewal coming"),
    ("next_event", "Votre prochain événement", "Your next event"),
    ("see", "Voir", "See"),
    ("number", "Numéro", "Number"),
    ("status", "Statut", "Status"),
    ("amount", "Montant", "Amount"),
    ("balance", "Reste à payer", "Balance"),
    ("due_date", "Échéance", "Due date"),
    ("reminders", "Relances", "Reminders"),
    ("pay", "Payer", "Pay"),
    ("renew", "Renouveler", "Renew"),
    ("update_card", "Mettre à jour ma carte", "Update my card"),
    ("subscriptions", "Abonnements", "Subscriptions"),
    ("plan", "Formule", "Plan"),
    ("period_end", "Fin de période", "Period ends"),
    ("cards", "Cartes", "Cards"),
    ("expires", "Expire", "Expires"),
    ("no_invoices", "Aucune facture.", "No invoices."),
    ("more", "Suivants", "More"),
    ("plot", "Parcelle", "Plot"),
    ("farmers", "Maraîchers", "Farmers"),
    ("news", "Actualités", "News"),
    ("harvests", "Récoltes", "Harvests"),
    ("events", "Événements", "Events"),
    ("places_left", "places restantes", "places left"),
    ("register", "S'inscrire", "Register"),
    ("cancel_registration", "Annuler mon inscription", "Cancel my registration"),
    ("registered", "Inscrit·e", "Registered"),
    ("no_garden", "Vous n'avez pas encore de parcelle.", "You have no plot yet."),
    ("write_to_support", "Écrire au support", "Write to support"),
    ("your_message", "Votre message", "Your message"),
    ("send", "Envoyer", "Send"),
    ("support", "Support", "Support"),
    ("you", "Vous", "You"),
    ("inbox", "Messages reçus", "Inbox"),
    ("answer", "Répondre", "Answer"),
    ("conversation_with", "Conversation avec", "Conversation with"),
    ("name", "Nom", "Name"),
    ("email", "Email", "Email"),
    ("phone", "Téléphone", "Phone"),
    ("language", "Langue", "Language"),
    ("no_email", "Pas d'emails", "No emails"),
    ("no_sms", "Pas de SMS", "No text messages"),
    ("preferred_channel", "Canal préféré", "Preferred channel"),
    ("save", "Enregistrer", "Save"),
    ("saved", "Enregistré.", "Saved."),
    ("export", "Télécharger mes données", "Download my data"),
    ("post_harvest", "Noter une récolte", "Record a harvest"),
    ("crop", "Culture", "Crop"),
    ("grams", "Poids (grammes)", "Weight (grams)"),
    ("date", "Date", "Date"),
    ("create_event", "Créer un événement", "Create an event"),
    ("title", "Titre", "Title"),
    ("starts_at", "Début, heure locale", "Starts, local time"),
    ("location", "Lieu", "Location"),
    ("capacity", "Places", "Places"),
    ("who_comes", "Inscrits", "Who comes"),
    ("follow_up", "Suivi manuel", "Follow-up"),
    ("reason", "Motif", "Reason"),
    ("since", "Depuis", "Since"),
    ("pause", "Suspendre les relances", "Pause reminders"),
    ("resume", "Reprendre les relances", "Resume reminders"),
    ("mark_paid", "Marquer payée", "Mark paid"),
    ("resend", "Renvoyer", "Send again"),
    ("invite", "Inviter un utilisateur", "Invite a user"),
    ("roles", "Rôles", "Roles"),
    ("kpis", "Indicateurs", "KPIs"),
    ("from", "Du", "From"),
    ("to", "Au", "To"),
    ("show", "Afficher", "Show"),
    ("retention", "Rétention", "Retention"),
    ("churn", "Attrition", "Churn"),
    ("mrr", "Revenu mensuel récurrent", "Monthly recurring revenue"),
    ("unpaid_rate", "Taux d'impayés", "Unpaid rate"),
    ("by_count", "en nombre", "by count"),
    ("by_amount", "en montant", "by amount"),
    ("days_to_pay", "Délai moyen de paiement (jours)", "Average days to pay"),
    ("reminders_sent", "Relances envoyées", "Reminders sent"),
    ("paid_after_step", "Payées après l'étape", "Paid after step"),
    ("missions", "Missions", "Missions"),
    ("billing_history", "Historique de facturation", "Billing history"),
    ("billed_paid", "Facturé et payé par mois", "Billed and paid per month"),
    ("billed", "Facturé", "Billed"),
    ("paid", "Payé", "Paid"),
    ("projected_actual", "Prévu et réalisé par mois", "Projected and actual per month"),
    ("projected", "Prévu", "Projected"),
    ("actual", "Réalisé", "Actual"),
    ("bonus", "Prime estimée", "Estimated bonus"),
    ("freelancers", "Freelances en mission", "Freelancers on mission"),
    ("peaks", "Mois de pointe", "Peak months"),
    ("leads", "Apports", "Leads"),
    ("submit_lead", "Proposer un contact", "Submit a lead"),
    ("company", "Entreprise", "Company"),
    ("contact_name", "Contact", "Contact"),
    ("commissions", "Commissions gagnées et versées", "Commissions earned and paid"),
    ("earned", "Gagnées", "Earned"),
    ("owed", "À verser", "Owed"),
    ("done", "C'est fait.", "Done."),
    ("error", "Erreur", "Error"),
    ("back_home", "Retour à l'accueil", "Back home"),
    ("outstanding", "Encours", "Outstanding"),
    // Statuses, as `status_<code>` (the `status` filter).
    ("status_draft", "Brouillon", "Draft"),
    ("status_open", "À payer", "To pay"),
    ("status_partially_paid", "Payée en partie", "Partly paid"),
    ("status_paid", "Payée", "Paid"),
    ("status_void", "Annulée", "Cancelled"),
    ("status_uncollectible", "Irrécouvrable", "Uncollectible"),
    ("status_trialing", "Essai", "Trial"),
    ("status_active", "Active", "Active"),
    ("status_past_due", "Paiement en retard", "Payment late"),
    ("status_unpaid", "Impayée", "Unpaid"),
    ("status_paused", "En pause", "Paused"),
    ("status_canceled", "Résiliée", "Cancelled"),
    ("status_expired", "Expirée", "Expired"),
    ("status_submitted", "Proposé", "Submitted"),
    ("status_qualified", "Qualifié", "Qualified"),
    ("status_won", "Gagné", "Won"),
    ("status_lost", "Perdu", "Lost"),
    // Notification kinds, as `status_<kind>` too (the reminders chart's labels).
    ("status_invoice_due_soon", "Échéance proche", "Due soon"),
    ("status_invoice_overdue", "Relance", "Overdue reminder"),
    ("status_invoice_final_notice", "Mise en demeure", "Final notice"),
    ("status_payment_failed", "Paiement refusé", "Payment failed"),
    ("status_card_expiring", "Carte bientôt expirée", "Card expiring"),
    ("status_card_expired", "Carte expirée", "Card expired"),
    ("status_renewal_upcoming", "Renouvellement", "Renewal"),
    ("status_thank_you", "Remerciement", "Thank you"),
    ("status_event_confirmation", "Inscription confirmée", "Registration confirmed"),
    ("status_event_reminder", "Rappel d'événement", "Event reminder"),
    ("status_event_changed", "Changement d'événement", "Event changed"),
    ("status_event_cancelled", "Événement annulé", "Event cancelled"),
    ("error_event_cancelled", "Cet événement est annulé.", "This event is cancelled."),
    ("status_message_received", "Message reçu", "Message received"),
    ("status_invitation", "Invitation", "Invitation"),
    ("status_date_rule", "Rappel de date", "Date reminder"),
    ("status_internal", "Note interne", "Internal note"),
    // What went wrong, as `error_<code>`: the only texts an error note or page can show,
    // so nobody can put words on our pages through a URL.
    ("error_bad_request", "Ce formulaire contient une valeur que nous ne pouvons pas lire.", "This form holds a value we cannot read."),
    ("error_unauthenticated", "Votre session a expiré : reconnectez-vous.", "Your session has expired: sign in again."),
    ("error_forbidden", "Votre compte ne permet pas cette action.", "Your account does not allow this."),
    ("error_not_found", "Cette page n'existe pas ou ne vous est pas accessible.", "This page does not exist or is not yours to see."),
    (
        "error_conflict",
        "Cela a changé entre-temps : rechargez la page et réessayez.",
        "This changed meanwhile: reload the page and try again.",
    ),
    (
        "error_unavailable",
        "Le service est momentanément indisponible : réessayez dans un instant.",
        "The service is briefly unavailable: try again in a moment.",
    ),
    ("error_internal", "Une erreur s'est produite de notre côté.", "Something went wrong on our side."),
    ("error_too_large", "Ce que vous envoyez est trop volumineux.", "What you sent is too large."),
    (
        "error_form_expired",
        "Ce formulaire a expiré : revenez en arrière, rechargez la page et réessayez.",
        "This form has expired: go back, reload the page and try again.",
    ),
    ("error_sign_in_expired", "La tentative de connexion a expiré : reconnectez-vous.", "The sign-in attempt expired: sign in again."),
    ("error_not_a_demo_user", "Ce n'est pas un des utilisateurs de démonstration.", "Not one of the demo users."),
    ("error_event_full", "Il n'y a plus de place pour cet événement.", "There are no places left for this event."),
    ("error_nothing_owed", "Il ne reste rien à payer sur cette facture.", "Nothing is left to pay on this invoice."),
    (
        "error_no_payment_page",
        "Cette facture ne peut pas être payée en ligne : écrivez-nous.",
        "This invoice cannot be paid online: write to us.",
    ),
    (
        "error_no_renewal_page",
        "Le renouvellement en ligne n'est pas disponible : écrivez-nous.",
        "Online renewal is not available: write to us.",
    ),
    (
        "error_unpaid_invoices",
        "Des factures restent à payer : réglez-les, ou écrivez-nous, avant d'effacer vos données.",
        "Invoices are still unpaid: settle them, or write to us, before your data can be erased.",
    ),
    ("error_already_resent", "Cette notification a déjà été renvoyée.", "This notification was already sent again."),
    ("error_still_sending", "Cette notification est encore en cours d'envoi.", "This notification is still on its way."),
    (
        "error_account_exists",
        "Un compte existe déjà pour cet utilisateur ou ce client.",
        "An account already exists for this user or customer.",
    ),
    ("error_unknown", "Cela n'a pas pu être fait.", "This could not be done."),
];

/// The language the pages speak for `locale`: English for English, French for anything else
/// (the pages are written in these two; French is the business's own).
pub fn language_of(locale: &relance::domain::Locale) -> &'static str {
    if locale.language() == "en" { "en" } else { "fr" }
}

/// The words of one language (French for `fr`, English otherwise).
pub fn table(language: &str) -> BTreeMap<&'static str, &'static str> {
    let french = language == "fr";
    TEXTS.iter().map(|(key, fr, en)| (*key, if french { *fr } else { *en })).collect()
}

/// Our own text for the error `code` (an [`relance::api_error::ApiError`] code), in `language`:
/// an unknown code reads as "this could not be done", never as itself.
pub fn error_text(language: &str, code: &str) -> &'static str {
    let french = language == "fr";
    let find = |key: &str| TEXTS.iter().find(|(k, _, _)| *k == key).map(|(_, fr, en)| if french { *fr } else { *en });
    find(&format!("error_{code}")).or_else(|| find("error_unknown")).unwrap_or("")
}

/// A status code (`partially_paid`) in words; an unknown one as it is, spaced out.
pub fn status_text(language: &str, code: &str) -> String {
    let french = language == "fr";
    let key = format!("status_{code}");
    TEXTS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or_else(|| code.replace('_', " "), |(_, fr, en)| (if french { *fr } else { *en }).to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_key_is_unique_and_translated() {
        let mut seen = std::collections::BTreeSet::new();
        for (key, fr, en) in super::TEXTS {
            assert!(seen.insert(key), "{key} twice");
            assert!(!fr.is_empty() && !en.is_empty(), "{key}");
        }
    }

    #[test]
    fn an_error_code_reads_as_our_own_words_and_anything_else_as_a_generic_text() {
        assert_eq!(super::error_text("fr", "event_full"), "Il n'y a plus de place pour cet événement.");
        assert_eq!(super::error_text("en", "<script>alert(1)</script>"), "This could not be done.");
        assert_eq!(super::status_text("fr", "partially_paid"), "Payée en partie");
        assert_eq!(super::status_text("en", "partially_paid"), "Partly paid");
    }
}
